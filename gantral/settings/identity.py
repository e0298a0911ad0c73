"""Identity settings: which issuer to trust, how its claims map to Gantral, where the
permission table lives, and the development issuer.

This is a plain model, mounted into the one settings tree as `settings.identity`
(environment: `GANTRAL_IDENTITY__ISSUER`, `GANTRAL_IDENTITY__CLAIMS__ROLES`, ...).
Nothing here reads the environment itself.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator

from gantral.settings.durations import Duration
from gantral.settings.profile import Profile

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "ClaimMapping",
    "Delegation",
    "DevClient",
    "DevIssuerSettings",
    "IdentitySettings",
    "VaultSettings",
    "refuse_unsafe_production",
]

# Only public-key algorithms: a JWKS publishes public keys, and accepting HS* would let
# anyone holding that public key forge tokens (the classic algorithm-confusion attack).
ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

DEV_ISSUER_URL = "http://127.0.0.1:8600"


class ClaimMapping(BaseModel):
    """Where the issuer puts who someone is. Dotted names reach into nested claims,
    e.g. `realm_access.roles` for Keycloak."""

    subject: str = "sub"
    roles: str = "roles"
    teams: str = "teams"
    # The human accountable for an agent (read from agent tokens only). Separation of
    # duties keeps that human from approving the agent's requests.
    owner: str = "owner"
    # IdP role or group name -> Gantral roles. Unmapped names pass through unchanged
    # unless `drop_unmapped_roles` is set (useful when the IdP sends hundreds of groups).
    role_mapping: dict[str, list[str]] = Field(default_factory=dict)
    drop_unmapped_roles: bool = False
    # The same for teams, e.g. Entra ID group object ids -> team names.
    team_mapping: dict[str, list[str]] = Field(default_factory=dict)
    drop_unmapped_teams: bool = False
    # A token is an agent's when any of these claims holds one of the listed values ...
    agent_claims: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "gantral_kind": ["agent"],
            "gty": ["client-credentials"],  # Auth0
            "idtyp": ["app"],  # Entra ID
        }
    )
    # ... or when its subject equals one of these client-id claims: a client-credentials
    # token is issued to the client itself, so `sub == azp` (the dev issuer) or `sub == cid` (Okta).
    client_id_claims: list[str] = Field(default_factory=lambda: ["client_id", "azp", "cid"])
    # Fail closed: when set, a token WITHOUT this claim (e.g. `email`, only present on
    # interactive logins) is an agent's, so an unrecognised service account can never decide.
    human_requires_claim: str | None = None


class Delegation(BaseModel):
    """Gateways acting for their own callers (the MCP gateway's users).

    An agent holding one of `gateway_roles` may send, with its own token, the token its
    caller gave it in the `Gantral-On-Behalf-Of` header. That token must be valid from this
    issuer and issued for one of `audiences` (the gateways' resource URLs, RFC 8707): a
    token meant for Gantral itself or for any other resource is refused. The request then
    runs as the caller (see `IdentityService.authenticate`). Empty `audiences`: off.
    """

    gateway_roles: list[str] = Field(default_factory=lambda: ["mcp-gateway"])
    audiences: list[str] = Field(default_factory=list)
    # Gateway agent id -> the audiences it may act for (its own resource URLs), so that a
    # token leaked to another gateway cannot be replayed there. When set, a gateway
    # without an entry may not act for anyone.
    gateways: dict[str, list[str]] = Field(default_factory=dict)


class DevClient(BaseModel):
    """A service account known to the development issuer (client-credentials grant)."""

    client_id: str = Field(min_length=1, max_length=256)
    client_secret: SecretStr
    roles: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    # The human accountable for the agent (the `owner` claim of its tokens).
    owner: str | None = None


class DevIssuerSettings(BaseModel):
    """The development issuer. Never trusted, served or minted from in production."""

    enabled: bool = True
    url: str = DEV_ISSUER_URL
    # Where its signing key (and an optional `clients.yaml`) live; created on first start.
    data_dir: Path = Path(".data/dev-issuer")
    clients: list[DevClient] = Field(default_factory=list)
    # Agent tokens are short-lived (reference §10.1): at most an hour.
    token_ttl: Duration = Field(default=timedelta(minutes=10), validate_default=True)

    @field_validator("token_ttl")
    @classmethod
    def _short_lived(cls, value: timedelta) -> timedelta:
        if value > timedelta(hours=1):
            raise ValueError("dev issuer tokens live at most 1h")
        return value


class VaultSettings(BaseModel):
    """HashiCorp Vault (KV v2) used to resolve `vault:mount/path#key` secret references."""

    addr: str | None = None
    token: SecretStr = SecretStr("")
    namespace: str | None = None
    timeout_seconds: float = Field(default=5.0, gt=0)


class IdentitySettings(BaseModel):
    issuer: str = DEV_ISSUER_URL
    audience: str = "gantral"
    # None: discovered from `{issuer}/.well-known/openid-configuration`.
    jwks_url: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"])
    leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    # Unknown `kid`s trigger a JWKS refetch at most this often, so a flood of forged kids
    # cannot turn the API into a load generator against the IdP.
    jwks_min_refetch_seconds: float = Field(default=30.0, ge=0)
    jwks_cache_seconds: float = Field(default=3600.0, gt=0)
    http_timeout_seconds: float = Field(default=5.0, gt=0)
    claims: ClaimMapping = ClaimMapping()
    # None: the table shipped in `gantral/identity/default_permissions.yaml`.
    permissions_file: Path | None = None
    dev_issuer: DevIssuerSettings = DevIssuerSettings()
    delegation: Delegation = Delegation()
    vault: VaultSettings = VaultSettings()

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        refused = [alg for alg in value if alg not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise ValueError(
                f"only asymmetric algorithms may be accepted, refused: {refused} "
                f"(allowed: {sorted(ASYMMETRIC_ALGORITHMS)})"
            )
        if not value:
            raise ValueError("at least one algorithm must be accepted")
        return value


def refuse_unsafe_production(identity: IdentitySettings, profile: Profile) -> None:
    """Raise ValueError if these settings would be unsafe under `profile`.

    Meant to be called from the root settings' model validator, so the API refuses to
    start rather than trusting development tokens in production.
    """
    if profile is not Profile.PRODUCTION:
        return
    problems: list[str] = []
    if identity.dev_issuer.enabled:
        problems.append("GANTRAL_IDENTITY__DEV_ISSUER__ENABLED must be false")
    if identity.issuer.rstrip("/") == identity.dev_issuer.url.rstrip("/"):
        problems.append("GANTRAL_IDENTITY__ISSUER must be a real IdP, not the dev issuer")
    for name, url in (("ISSUER", identity.issuer), ("JWKS_URL", identity.jwks_url)):
        if url is not None and urlsplit(url).scheme != "https":
            problems.append(f"GANTRAL_IDENTITY__{name} must use https")
    if problems:
        raise ValueError("unsafe identity settings for production: " + "; ".join(problems))

"""Bearer-token validation: every refusal has its precise reason; rotation refetches."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from gantral.errors import Unauthenticated, Unavailable
from gantral.identity.dev_keys import SigningKey, mint_token
from gantral.identity.jwks import JwksCache
from gantral.identity.principal import PrincipalKind
from gantral.identity.tokens import TokenValidator, bearer_token
from gantral.settings.identity import ClaimMapping, IdentitySettings

ISSUER = "https://idp.example.test/realms/gantral"
AUDIENCE = "gantral-api"
JWKS_URL = "https://idp.example.test/jwks"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj, default=lambda when: int(when.timestamp())).encode())


class FakeIdp:
    """A JWKS endpoint whose keys can rotate; counts fetches."""

    def __init__(self, *jwks: dict[str, Any]) -> None:
        self.keys = list(jwks)
        self.fetches = 0
        self.down = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": JWKS_URL})
        assert str(request.url) == JWKS_URL
        self.fetches += 1
        return httpx.Response(200, json={"keys": self.keys})


def rsa_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rsa_jwk(key: RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "roles": ["approver"],
        "teams": ["payments"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def rsa_private() -> RSAPrivateKey:
    return rsa_key()


@pytest.fixture
def ed_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def idp(rsa_private: RSAPrivateKey, ed_key: SigningKey) -> FakeIdp:
    return FakeIdp(rsa_jwk(rsa_private, "rsa-1"), ed_key.public_jwk())


Make = Callable[..., TokenValidator]


@pytest.fixture
def make(idp: FakeIdp) -> Make:
    def build(**settings: Any) -> TokenValidator:
        values: dict[str, Any] = {
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "jwks_url": JWKS_URL,
            "jwks_min_refetch_seconds": 0,
        }
        values.update(settings)
        http = httpx.AsyncClient(transport=httpx.MockTransport(idp.handler))
        return TokenValidator(IdentitySettings.model_validate(values), http)

    return build


def rs256(key: RSAPrivateKey, payload: dict[str, Any], kid: str = "rsa-1") -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


async def refused(validator: TokenValidator, token: str) -> str:
    with pytest.raises(Unauthenticated) as info:
        await validator.validate(token)
    return info.value.reason


async def test_valid_rsa_token_gives_principal(make: Make, rsa_private: RSAPrivateKey) -> None:
    principal = await make().validate(rs256(rsa_private, claims()))
    assert principal.subject == "alice"
    assert principal.kind is PrincipalKind.HUMAN
    assert principal.roles == {"approver"}
    assert principal.teams == {"payments"}
    assert principal.issuer == ISSUER


async def test_valid_eddsa_token_from_dev_minting(make: Make, ed_key: SigningKey) -> None:
    token = mint_token(
        ed_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="invoice-bot",
        kind=PrincipalKind.AGENT,
        teams=["payments"],
    )
    principal = await make().validate(token)
    assert principal.subject == "invoice-bot"
    assert principal.is_agent


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": timedelta(minutes=-5)}, "expired"),
        ({"aud": "someone-else"}, "wrong_audience"),
        ({"iss": "https://evil.example.test"}, "wrong_issuer"),
        ({"nbf": timedelta(minutes=10)}, "not_yet_valid"),
        ({"exp": None}, "missing_claim"),
        ({"aud": None}, "missing_claim"),
        ({"sub": None}, "missing_subject"),
    ],
)
async def test_claim_failures_are_refused_precisely(
    make: Make, rsa_private: RSAPrivateKey, overrides: dict[str, Any], reason: str
) -> None:
    # Times are offsets from when the test runs, not from collection (a slow suite once ran
    # this 15 minutes after collecting it, and the "future" nbf had passed).
    now = datetime.now(UTC)
    timed = {k: now + v if isinstance(v, timedelta) else v for k, v in overrides.items()}
    assert await refused(make(), rs256(rsa_private, claims(**timed))) == reason


async def test_leeway_tolerates_small_clock_skew(make: Make, rsa_private: RSAPrivateKey) -> None:
    token = rs256(rsa_private, claims(nbf=datetime.now(UTC) + timedelta(seconds=10)))
    assert (await make(leeway_seconds=30).validate(token)).subject == "alice"
    assert await refused(make(leeway_seconds=0), token) == "not_yet_valid"


async def test_unsigned_token_is_refused(make: Make) -> None:
    token = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims())}."
    assert await refused(make(), token) == "unsigned"
    token = f"{segment({'alg': 'None', 'kid': 'rsa-1'})}.{segment(claims())}.c2ln"
    assert await refused(make(), token) == "unsigned"


async def test_hs256_signed_with_the_public_key_is_refused(
    make: Make, rsa_private: RSAPrivateKey
) -> None:
    # The algorithm-confusion attack: HMAC keyed with the (public) RSA key material.
    public_pem = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{segment({'alg': 'HS256', 'kid': 'rsa-1'})}.{segment(claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert await refused(make(), f"{signing_input}.{b64(mac)}") == "algorithm_not_allowed"


def test_settings_refuse_symmetric_algorithms() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        IdentitySettings(algorithms=["RS256", "HS256"])
    with pytest.raises(ValueError, match="asymmetric"):
        IdentitySettings(algorithms=["none"])


async def test_algorithm_that_does_not_fit_the_key_is_refused(
    make: Make, rsa_private: RSAPrivateKey, ed_key: SigningKey
) -> None:
    # An EdDSA token naming the RSA key's kid.
    token = jwt.encode(claims(), ed_key.private_key, algorithm="EdDSA", headers={"kid": "rsa-1"})
    assert await refused(make(), token) == "algorithm_mismatch"


async def test_tampered_token_is_refused(make: Make, rsa_private: RSAPrivateKey) -> None:
    header, _, signature = rs256(rsa_private, claims(roles=["approver"])).split(".")
    forged = f"{header}.{segment(claims(roles=['supervisor', 'auditor']))}.{signature}"
    assert await refused(make(), forged) == "bad_signature"


async def test_token_signed_by_another_key_with_a_known_kid_is_refused(make: Make) -> None:
    assert await refused(make(), rs256(rsa_key(), claims())) == "bad_signature"


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "ey.ey.ey.ey", "x" * 20_000])
async def test_malformed_tokens_are_refused(make: Make, token: str) -> None:
    assert await refused(make(), token) == "malformed"


async def test_key_rotation_refetches_the_jwks(make: Make, idp: FakeIdp) -> None:
    validator = make()
    old, new = rsa_key(), rsa_key()
    idp.keys = [rsa_jwk(old, "2026-01")]
    assert (await validator.validate(rs256(old, claims(), kid="2026-01"))).subject == "alice"
    assert idp.fetches == 1
    idp.keys = [rsa_jwk(old, "2026-01"), rsa_jwk(new, "2026-02")]
    assert (await validator.validate(rs256(new, claims(), kid="2026-02"))).subject == "alice"
    assert idp.fetches == 2
    # Known kids are served from the cache.
    await validator.validate(rs256(old, claims(), kid="2026-01"))
    assert idp.fetches == 2


async def test_unknown_kid_refetch_is_rate_limited(
    make: Make, idp: FakeIdp, rsa_private: RSAPrivateKey
) -> None:
    validator = make(jwks_min_refetch_seconds=3600)
    await validator.validate(rs256(rsa_private, claims()))
    for _ in range(5):
        assert await refused(validator, rs256(rsa_private, claims(), kid="forged")) == "unknown_key"
    assert idp.fetches == 1


async def test_concurrent_requests_with_a_new_kid_fetch_once(make: Make, idp: FakeIdp) -> None:
    validator = make(jwks_min_refetch_seconds=3600)
    new = rsa_key()
    idp.keys = [rsa_jwk(new, "fresh")]
    tokens = [rs256(new, claims(sub=f"u{i}"), kid="fresh") for i in range(20)]
    principals = await asyncio.gather(*(validator.validate(t) for t in tokens))
    assert {p.subject for p in principals} == {f"u{i}" for i in range(20)}
    assert idp.fetches == 1


async def test_kid_is_optional_only_with_a_single_key(make: Make, idp: FakeIdp) -> None:
    only = rsa_key()
    jwk = rsa_jwk(only, "ignored")
    del jwk["kid"]
    idp.keys = [jwk]
    token = jwt.encode(claims(), only, algorithm="RS256")
    assert (await make().validate(token)).subject == "alice"
    idp.keys = [jwk, rsa_jwk(rsa_key(), "other")]
    assert await refused(make(), token) == "missing_kid"


async def test_cached_keys_survive_an_idp_outage(
    make: Make, idp: FakeIdp, rsa_private: RSAPrivateKey
) -> None:
    validator = make(jwks_cache_seconds=0.001)
    await validator.validate(rs256(rsa_private, claims()))
    idp.down = True
    assert (await validator.validate(rs256(rsa_private, claims()))).subject == "alice"


async def test_unreachable_idp_is_unavailable_not_unauthenticated(
    make: Make, idp: FakeIdp, rsa_private: RSAPrivateKey
) -> None:
    idp.down = True
    with pytest.raises(Unavailable):
        await make().validate(rs256(rsa_private, claims()))


async def test_jwks_is_discovered_from_the_issuer(make: Make, rsa_private: RSAPrivateKey) -> None:
    principal = await make(jwks_url=None).validate(rs256(rsa_private, claims()))
    assert principal.subject == "alice"


async def test_symmetric_and_encryption_keys_in_the_jwks_are_never_used(idp: FakeIdp) -> None:
    idp.keys.append({"kty": "oct", "kid": "hmac", "k": b64(b"secret")})
    idp.keys.append({**idp.keys[0], "kid": "enc", "use": "enc"})
    http = httpx.AsyncClient(transport=httpx.MockTransport(idp.handler))
    cache = JwksCache(http, issuer=ISSUER, jwks_url=JWKS_URL, min_refetch_seconds=3600)
    assert (await cache.key_for("rsa-1"))["kty"] == "RSA"
    for kid in ("hmac", "enc"):
        with pytest.raises(Unauthenticated) as info:
            await cache.key_for(kid)
        assert info.value.reason == "unknown_key"


async def test_claim_mapping_keycloak_style(make: Make, rsa_private: RSAPrivateKey) -> None:
    mapping = ClaimMapping(
        roles="realm_access.roles",
        teams="groups",
        role_mapping={"gantral-approvers": ["approver"]},
        drop_unmapped_roles=True,
        team_mapping={"3f1c-guid": ["payments"]},
    )
    token = rs256(
        rsa_private,
        claims(
            roles=None,
            realm_access={"roles": ["gantral-approvers", "offline_access"]},
            groups="3f1c-guid risk",
        ),
    )
    principal = await make(claims=mapping).validate(token)
    assert principal.roles == {"approver"}
    assert principal.teams == {"payments", "risk"}


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ({}, PrincipalKind.HUMAN),
        ({"gantral_kind": "agent"}, PrincipalKind.AGENT),
        ({"azp": "alice"}, PrincipalKind.AGENT),  # client-credentials: sub == client id
        ({"azp": "web-console"}, PrincipalKind.HUMAN),  # a person signed in via a client
        ({"client_id": "alice"}, PrincipalKind.AGENT),
        ({"cid": "alice"}, PrincipalKind.AGENT),  # Okta
        ({"gty": "client-credentials"}, PrincipalKind.AGENT),
    ],
)
async def test_agent_detection(
    make: Make, rsa_private: RSAPrivateKey, extra: dict[str, Any], kind: PrincipalKind
) -> None:
    principal = await make().validate(rs256(rsa_private, claims(**extra)))
    assert principal.kind is kind


async def test_human_requires_claim_fails_closed(make: Make, rsa_private: RSAPrivateKey) -> None:
    validator = make(claims=ClaimMapping(human_requires_claim="email"))
    service_account = rs256(rsa_private, claims(sub="svc-7f3a", azp="ledger"))
    assert (await validator.validate(service_account)).kind is PrincipalKind.AGENT
    person = rs256(rsa_private, claims(email="alice@example.com"))
    assert (await validator.validate(person)).kind is PrincipalKind.HUMAN


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  tok ", "tok")],
)
def test_bearer_token_parsing(header: str, expected: str) -> None:
    assert bearer_token(header) == expected


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_bearer_token_missing(header: str | None) -> None:
    with pytest.raises(Unauthenticated) as info:
        bearer_token(header)
    assert info.value.reason == "missing_token"


async def test_owner_claim_is_mapped_for_agents(make: Make, rsa_private: RSAPrivateKey) -> None:
    from gantral.identity.principal import to_actor

    agent = rs256(rsa_private, claims(sub="bot-1", gantral_kind="agent", owner="olivia"))
    principal = await make().validate(agent)
    assert principal.owner == "olivia" and to_actor(principal).owner == "olivia"
    renamed = make(claims=ClaimMapping(owner="ext.accountable"))
    nested = rs256(
        rsa_private, claims(sub="bot-1", gantral_kind="agent", ext={"accountable": "omar"})
    )
    assert (await renamed.validate(nested)).owner == "omar"
    # With the claim renamed, `owner` is just another claim: not the owner.
    assert (await renamed.validate(agent)).owner is None
    # A human has no owner, whatever the token says.
    person = await make().validate(rs256(rsa_private, claims(owner="olivia")))
    assert person.owner is None and to_actor(person).owner is None


@pytest.mark.parametrize("owner", ["", 7, ["olivia"], "x" * 257])
async def test_an_unusable_owner_claim_is_refused_not_dropped(
    make: Make, rsa_private: RSAPrivateKey, owner: object
) -> None:
    token = rs256(rsa_private, claims(sub="bot-1", gantral_kind="agent", owner=owner))
    assert await refused(make(), token) == "invalid_owner"

"""Bearer-token validation: one JWT in, one `Principal` out, or `Unauthenticated`
with a precise reason.

Checked, in order: the header parses; the algorithm is one we accept (never `none`,
never HS*: a JWKS holds public keys, and HMAC keyed with a public key is forgeable);
the key is the issuer's (by `kid`, refetching the JWKS on rotation) and of the
algorithm's family; the signature; then `iss`, `aud`, `exp`, `nbf` with a small leeway.

    reason                 meaning
    missing_token          no Authorization header / not a Bearer token
    malformed              not a JWT (bad segments, base64 or JSON)
    unsigned               alg=none
    algorithm_not_allowed  an algorithm outside the configured asymmetric list
    algorithm_mismatch     the algorithm does not fit the key it names
    unknown_key / missing_kid
    bad_signature          tampered, or signed by someone else
    expired / not_yet_valid / wrong_issuer / wrong_audience / missing_claim
    missing_subject        no usable subject claim
"""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from gantral.errors import Reason, Unauthenticated
from gantral.identity.claims import principal_from_claims
from gantral.identity.jwks import JWK, JwksCache
from gantral.identity.principal import Principal
from gantral.settings.identity import IdentitySettings

__all__ = ["TokenValidator", "bearer_token"]

_MAX_TOKEN_BYTES = 16_384
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

# Most specific first: InvalidSignatureError is a DecodeError, Expired is an InvalidToken...
_PYJWT_REASONS: tuple[tuple[type[jwt.PyJWTError], Reason, str], ...] = (
    (jwt.ExpiredSignatureError, Reason.EXPIRED, "token has expired"),
    (jwt.ImmatureSignatureError, Reason.NOT_YET_VALID, "token is not valid yet (nbf/iat)"),
    (jwt.InvalidAudienceError, Reason.WRONG_AUDIENCE, "token is not meant for this audience"),
    (jwt.InvalidIssuerError, Reason.WRONG_ISSUER, "token comes from an untrusted issuer"),
    (jwt.InvalidSignatureError, Reason.BAD_SIGNATURE, "token signature does not verify"),
    (jwt.MissingRequiredClaimError, Reason.MISSING_CLAIM, "token lacks a required claim"),
    (jwt.InvalidAlgorithmError, Reason.ALGORITHM_MISMATCH, "token algorithm does not fit its key"),
    (jwt.InvalidKeyError, Reason.ALGORITHM_MISMATCH, "token algorithm does not fit its key"),
    (jwt.DecodeError, Reason.MALFORMED, "token is not a well-formed JWT"),
    (jwt.PyJWTError, Reason.INVALID, "token is invalid"),
)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        raise Unauthenticated("missing bearer token", reason=Reason.MISSING_TOKEN)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'", reason=Reason.MISSING_TOKEN)
    return token.strip()


def _key_fits(jwk: JWK, alg: str) -> bool:
    declared = jwk.get("alg")
    if declared is not None and declared != alg:
        return False
    kty = jwk.get("kty")
    if kty == "RSA":
        return alg[:2] in ("RS", "PS")
    if kty == "EC":
        return _EC_CURVES.get(alg) == jwk.get("crv")
    if kty == "OKP":
        return alg == "EdDSA" and jwk.get("crv") in ("Ed25519", "Ed448")
    return False


class TokenValidator:
    """Validates tokens of the one configured issuer. Create once (API lifespan) and
    share: it holds the JWKS cache."""

    def __init__(
        self,
        settings: IdentitySettings,
        http: httpx.AsyncClient,
        *,
        jwks: JwksCache | None = None,
        audiences: list[str] | None = None,
    ) -> None:
        self._settings = settings
        # `audiences`: accept tokens for these resources instead of the API's own audience.
        self._audience: str | list[str] = audiences or settings.audience
        self._algorithms = frozenset(settings.algorithms)
        self.jwks = jwks or JwksCache(
            http,
            issuer=settings.issuer,
            jwks_url=settings.jwks_url,
            min_refetch_seconds=settings.jwks_min_refetch_seconds,
            cache_seconds=settings.jwks_cache_seconds,
        )

    async def validate(self, token: str) -> Principal:
        header = self._header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise Unauthenticated("unsigned tokens are refused", reason=Reason.UNSIGNED)
        if alg not in self._algorithms:
            raise Unauthenticated(
                f"token algorithm {alg!r} is not accepted", reason=Reason.ALGORITHM_NOT_ALLOWED
            )
        kid = header.get("kid")
        jwk = await self.jwks.key_for(kid if isinstance(kid, str) else None)
        if not _key_fits(jwk, alg):
            raise Unauthenticated(
                f"token algorithm {alg!r} does not fit the issuer's key",
                reason=Reason.ALGORITHM_MISMATCH,
            )
        claims = self._decode(token, jwk, alg)
        return principal_from_claims(claims, self._settings.claims, issuer=self._settings.issuer)

    @staticmethod
    def _header(token: str) -> dict[str, Any]:
        if not token or len(token) > _MAX_TOKEN_BYTES or token.count(".") != 2:
            raise Unauthenticated("token is not a well-formed JWT", reason=Reason.MALFORMED)
        try:
            return jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(
                "token is not a well-formed JWT", reason=Reason.MALFORMED
            ) from exc

    def _decode(self, token: str, jwk: JWK, alg: str) -> dict[str, Any]:
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True},
            )
        except jwt.PyJWTError as exc:
            for error_type, reason, message in _PYJWT_REASONS:
                if isinstance(exc, error_type):
                    raise Unauthenticated(message, reason=reason) from exc
            raise  # unreachable: PyJWTError is the last row
        return claims

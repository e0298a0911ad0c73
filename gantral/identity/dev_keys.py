"""The development issuer's signing key and token minting.

The key is an Ed25519 key generated into the issuer's data directory on first use
(mode 0600, never committed: `.data/` is ignored). Its `kid` is the RFC 7638
thumbprint, so a regenerated key gets a new `kid` and validators refetch the JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.identity.principal import PrincipalKind

__all__ = ["KEY_FILE", "SigningKey", "load_or_create_signing_key", "mint_token"]

KEY_FILE = "signing-key.pem"
ALGORITHM = "EdDSA"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def public_jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
        thumbprint = hashlib.sha256(
            json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
        ).digest()
        return {**members, "kid": _b64url(thumbprint), "alg": ALGORITHM, "use": "sig"}

    @property
    def kid(self) -> str:
        return self.public_jwk()["kid"]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.public_jwk()]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})


def load_or_create_signing_key(data_dir: Path) -> SigningKey:
    """Load `data_dir/signing-key.pem`, generating it (owner-only) on first use."""
    path = data_dir / KEY_FILE
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return SigningKey(loaded)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = SigningKey.generate()
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def mint_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    subject: str,
    kind: PrincipalKind,
    roles: list[str] | None = None,
    teams: list[str] | None = None,
    ttl: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
    extra: dict[str, Any] | None = None,
    owner: str | None = None,
    owner_claim: str = "owner",
) -> str:
    """A token for a named user or agent, in the claim layout the default mapping reads.

    `owner` (agents only) names the agent's accountable human under `owner_claim`, the
    claim mapping's `owner` name.
    """
    if owner is not None and kind is not PrincipalKind.AGENT:
        raise ValueError("only an agent has an owner")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": str(uuid.uuid4()),
        "gantral_kind": kind.value,
        "roles": sorted(set(roles or [])),
        "teams": sorted(set(teams or [])),
    }
    if kind is PrincipalKind.AGENT:
        claims["azp"] = subject
    if owner is not None:
        claims[owner_claim] = owner
    claims.update(extra or {})
    return key.sign(claims)

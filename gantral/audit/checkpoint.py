"""Signed checkpoints: an Ed25519 signature over the size and root of the global log.

A checkpoint is what an auditor pins: with only the public key, it proves which events
existed (inclusion proofs) and that later logs extend earlier ones (consistency proofs).

    signed = "gantral-audit-checkpoint/v1" LF
             || JCS({"v", "origin", "size", "root", "timestamp", "key_id"})
    key_id = hex(SHA-256(raw 32-byte Ed25519 public key))
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from gantral.domain.digest import canonical_bytes

__all__ = [
    "CHECKPOINT_PREFIX",
    "Checkpoint",
    "PublicKeys",
    "find_key",
    "generate_key_pem",
    "key_id",
    "key_list",
    "load_private_key",
    "load_public_key",
    "load_verification_keys",
    "public_key_pem",
    "sign_checkpoint",
    "verify_checkpoint",
]

CHECKPOINT_PREFIX = b"gantral-audit-checkpoint/v1\n"


class Checkpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    origin: str
    size: int
    root: str
    timestamp: str
    key_id: str
    signature: str = ""

    def signed_bytes(self) -> bytes:
        body = {
            "v": 1,
            "origin": self.origin,
            "size": self.size,
            "root": self.root,
            "timestamp": self.timestamp,
            "key_id": self.key_id,
        }
        return CHECKPOINT_PREFIX + canonical_bytes(body)


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign_checkpoint(
    key: Ed25519PrivateKey, *, origin: str, size: int, root: bytes, timestamp: str
) -> Checkpoint:
    unsigned = Checkpoint(
        origin=origin,
        size=size,
        root=root.hex(),
        timestamp=timestamp,
        key_id=key_id(key.public_key()),
    )
    signature = key.sign(unsigned.signed_bytes()).hex()
    return unsigned.model_copy(update={"signature": signature})


PublicKeys = Ed25519PublicKey | Sequence[Ed25519PublicKey]
"""One trusted public key, or several (the old and the new one while rotating)."""


def key_list(keys: PublicKeys | None) -> list[Ed25519PublicKey]:
    if keys is None:
        return []
    return [keys] if isinstance(keys, Ed25519PublicKey) else list(keys)


def verify_checkpoint(checkpoint: Checkpoint, public_keys: PublicKeys) -> str | None:
    """None when signed by one of the trusted keys, else why not."""
    public_key = find_key(checkpoint, key_list(public_keys))
    if public_key is None:
        return f"checkpoint {checkpoint.size} signed by unknown key {checkpoint.key_id[:16]}"
    try:
        public_key.verify(bytes.fromhex(checkpoint.signature), checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        return f"checkpoint {checkpoint.size} has an invalid signature"
    return None


def _material(value: str) -> bytes:
    """A PEM given inline, or a path to a file holding it (settings accept either)."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    return Path(text).expanduser().read_bytes()


def _is_raw_hex(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def load_private_key(value: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(_material(value), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the audit signing key must be an Ed25519 key")
    return key


def load_public_key(value: str) -> Ed25519PublicKey:
    """A public key as PEM (inline or file) or as 64 hex characters (raw key).

    Given a private key it answers its public half (the signer's own use); verifiers
    load what they trust with `load_verification_keys`, which refuses private keys.
    """
    text = value.strip()
    if _is_raw_hex(text):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    material = _material(text)
    if b"PRIVATE KEY" in material:
        return load_private_key(material.decode()).public_key()
    key = serialization.load_pem_public_key(material)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the audit public key must be an Ed25519 key")
    return key


def load_verification_keys(values: Sequence[str]) -> list[Ed25519PublicKey]:
    """Public keys a verifier trusts. Private-key material is refused, never derived from:
    whoever verifies must not hold, or need, what signs."""
    keys = []
    for value in values:
        text = value.strip()
        material = text if _is_raw_hex(text) else _material(text).decode(errors="replace")
        if "PRIVATE KEY" in material:
            raise ValueError("a verification key must be a public key, not a private key")
        keys.append(load_public_key(material))
    return keys


def find_key(
    checkpoint: Checkpoint, public_keys: Sequence[Ed25519PublicKey]
) -> Ed25519PublicKey | None:
    """The trusted key a checkpoint names by its key id, if any (several during rotation)."""
    return next((k for k in public_keys if key_id(k) == checkpoint.key_id), None)


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def generate_key_pem() -> tuple[str, str]:
    """A fresh (private PEM, public PEM) pair."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private, public_key_pem(key.public_key())

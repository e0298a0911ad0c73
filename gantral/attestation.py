"""Attestation: the API signs every call it relays to Temporal; the workflow and the sink
verify it.

Without it, anyone who can reach Temporal could send an Update naming an invented human
with invented roles, and the workflow would have no way to tell. The API, having checked
the bearer token and the permission table, signs a statement of the call with an Ed25519
key; the instance worker and the audit sink hold only the public halves. A call whose
statement does not verify is refused before anything reaches history.

    statement = JCS({"v": 1, "op": <operation>, "instance_id": <id>, "body": <payload>})
    signature = Ed25519(statement)

`body` is the call's payload without its `attestation` field: for a decision, the actor
(id, kind, roles, owner) and everything it decided, so neither can be changed in flight.
Pure: no I/O beyond loading key material, no clock, so the workflow sandbox can use it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from gantral.domain.digest import canonical_bytes

__all__ = [
    "Attestation",
    "Attestor",
    "TrustAnchors",
    "attestation_problem",
    "attested_record",
    "install_anchors",
    "installed_anchors",
    "key_id",
    "statement_bytes",
]

VERSION = 1


class Attestation(BaseModel):
    """The API's signature over one call: which key signed, and the signature (hex)."""

    model_config = ConfigDict(frozen=True)

    key_id: str = Field(min_length=1, max_length=128)
    signature: str = Field(min_length=1, max_length=256)


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "att-" + hashlib.sha256(raw).hexdigest()[:32]


def statement_bytes(op: str, instance_id: str, body: Mapping[str, Any]) -> bytes:
    return canonical_bytes({"v": VERSION, "op": op, "instance_id": instance_id, "body": body})


def body_of(payload: BaseModel) -> dict[str, Any]:
    """What is signed of a message: all of it but the attestation itself."""
    return payload.model_dump(mode="json", exclude={"attestation"})


def attested_record(
    op: str, body: dict[str, Any], attestation: Attestation | None
) -> dict[str, Any]:
    """The signed call as an audit event keeps it (its `attested` field): the sink and any
    verifier check whom the API vouched for without trusting the workflow that sent it."""
    signed = attestation.model_dump(mode="json") if attestation is not None else None
    return {"op": op, "body": body, "attestation": signed}


class Attestor:
    """The API's half: signs statements with the private key."""

    def __init__(self, key: Ed25519PrivateKey, *, id_secret: bytes | None = None) -> None:
        self._key = key
        self.key_id = key_id(key.public_key())
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        # Instance ids are keyed with a server secret (its own, or derived from the key),
        # so an outsider cannot compute another team's instance id from its idempotency key.
        self._id_key = hashlib.sha256(b"gantral instance id\x00" + (id_secret or raw)).digest()

    def sign(self, op: str, instance_id: str, body: Mapping[str, Any]) -> Attestation:
        signature = self._key.sign(statement_bytes(op, instance_id, body))
        return Attestation(key_id=self.key_id, signature=signature.hex())

    def attest(self, op: str, instance_id: str, payload: BaseModel) -> Attestation:
        return self.sign(op, instance_id, body_of(payload))

    def keyed_id(self, *parts: str) -> str:
        """A stable id no one without the key can compute (HMAC-SHA-256 of the parts)."""
        message = "\x00".join(parts).encode()
        return hmac.new(self._id_key, message, hashlib.sha256).hexdigest()[:32]

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()


@dataclass(frozen=True)
class TrustAnchors:
    """The public keys whose attestations the worker and the sink accept, by key id."""

    keys: Mapping[str, Ed25519PublicKey]

    @classmethod
    def of(cls, keys: Iterable[Ed25519PublicKey]) -> TrustAnchors:
        return cls({key_id(k): k for k in keys})

    def problem(
        self, op: str, instance_id: str, body: Mapping[str, Any], att: Attestation | None
    ) -> str | None:
        """None when `att` is a valid signature of this call by a trusted key, else why not."""
        if att is None:
            return f"{op} carries no attestation: only the Gantral API may send it"
        key = self.keys.get(att.key_id)
        if key is None:
            return f"{op} is attested by an untrusted key {att.key_id[:40]}"
        try:
            key.verify(bytes.fromhex(att.signature), statement_bytes(op, instance_id, body))
        except (InvalidSignature, ValueError, rfc8785.CanonicalizationError):
            return f"{op} has an invalid attestation signature"
        return None


# The worker process installs its anchors once at startup, before any workflow runs; the
# workflow's validators read them. Validators do not run on replay, so rotating keys never
# changes how an accepted history replays.
_INSTALLED: TrustAnchors = TrustAnchors({})


def install_anchors(anchors: TrustAnchors) -> None:
    global _INSTALLED
    _INSTALLED = anchors


def installed_anchors() -> TrustAnchors:
    return _INSTALLED


def attestation_problem(op: str, instance_id: str, payload: BaseModel) -> str | None:
    """Check a workflow message's own `attestation` against the installed anchors."""
    att = getattr(payload, "attestation", None)
    return _INSTALLED.problem(op, instance_id, body_of(payload), att)

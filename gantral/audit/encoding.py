"""The exact bytes that are hashed: event bodies, the instance chain, and Merkle leaves.

Everything here is pure so a verifier (in any language) can reproduce it from
`specs/audit.md`. The stored body is the RFC 8785 canonical JSON of the event as the
sink stores it: the snapshot is already replaced by its reference, so the chain never
depends on object storage being reachable.

    body_n  = JCS({"v": 1, "instance_id", "seq", "type", "at", "actor", "payload", "snapshot"})
    hash_0  = 32 zero bytes
    hash_n  = SHA-256(hash_{n-1} || body_n)
    leaf_n  = SHA-256(0x00 || hash_n)          (RFC 9162 leaf hash in the global log)
"""

from __future__ import annotations

import hashlib
from typing import Any

from gantral.domain.audit_event import AuditEvent, format_at
from gantral.domain.digest import canonical_bytes

__all__ = [
    "BODY_VERSION",
    "GENESIS",
    "body_dict",
    "chain_hash",
    "encode_body",
    "format_at",
]

BODY_VERSION = 1
GENESIS = bytes(32)
"""The `prev` hash of the first event of every instance."""


def body_dict(event: AuditEvent, snapshot_ref: dict[str, Any] | None) -> dict[str, Any]:
    """The stored form of an event; `snapshot` is the reference, never the snapshot itself."""
    dumped = event.model_dump(mode="json", include={"actor", "payload"})
    return {
        "v": BODY_VERSION,
        "instance_id": event.instance_id,
        "seq": event.seq,
        "type": str(event.type),
        "at": format_at(event.at),
        "actor": dumped["actor"],
        "payload": dumped["payload"],
        "snapshot": snapshot_ref,
    }


def encode_body(event: AuditEvent, snapshot_ref: dict[str, Any] | None) -> bytes:
    return canonical_bytes(body_dict(event, snapshot_ref))


def chain_hash(prev: bytes, body: bytes) -> bytes:
    """The instance chain link: the previous event hash (raw 32 bytes) then the body bytes."""
    return hashlib.sha256(prev + body).digest()

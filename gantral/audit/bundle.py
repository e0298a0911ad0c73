"""Evidence bundles: everything an auditor needs to verify one sealed instance offline.

A bundle carries the sealed chain (exact body bytes as strings), the decisions and
snapshot references for reading convenience, and a signed checkpoint (as JSON and as
its C2SP signed note, verbatim, with any witness cosignatures) with an inclusion proof
for every event, so `gantral audit verify --bundle` needs only the public key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from gantral.audit.checkpoint import Checkpoint
from gantral.audit.merkle import MerkleTree
from gantral.audit.rows import EventRow, SealRow
from gantral.domain.audit_event import AuditEventType
from gantral.domain.digest import canonical_bytes

__all__ = ["BUNDLE_FORMAT", "BUNDLE_PREFIX", "build_bundle", "bundle_key", "encode_bundle"]

BUNDLE_FORMAT = "gantral-audit-bundle/v1"
BUNDLE_PREFIX = "bundles/"


def bundle_key(instance_id: str, sha256_hex: str) -> str:
    return f"{BUNDLE_PREFIX}{quote(instance_id, safe='')}/{sha256_hex}.json"


def build_bundle(
    instance_id: str,
    rows: list[EventRow],
    seal: SealRow | None,
    checkpoint: Checkpoint | None,
    tree: MerkleTree,
    checkpoint_note: str | None = None,
) -> dict[str, Any]:
    """`checkpoint_note`: the same checkpoint as a C2SP signed note, verbatim (with the
    witnesses' cosignatures when it has them), for verifiers that read only the standard."""
    bodies = [json.loads(row.body) for row in rows]
    events = [
        {
            "seq": row.seq,
            "log_index": row.log_index,
            "type": row.type,
            "prev_hash": row.prev_hash.hex(),
            "hash": row.hash.hex(),
            "body": row.body.decode(),
        }
        for row in rows
    ]
    inclusion = []
    if checkpoint is not None:
        inclusion = [
            {
                "log_index": row.log_index,
                "proof": [p.hex() for p in tree.inclusion_proof(row.log_index, checkpoint.size)],
            }
            for row in rows
            if row.log_index < checkpoint.size
        ]
    return {
        "format": BUNDLE_FORMAT,
        "instance_id": instance_id,
        "events": events,
        "seal": None
        if seal is None
        else {"seq": seal.seq, "log_index": seal.log_index, "head": seal.head_hash.hex()},
        "decisions": [b for b in bodies if b.get("type") == AuditEventType.DECISION_RECORDED],
        "snapshots": [b["snapshot"] for b in bodies if b.get("snapshot")],
        "checkpoint": None if checkpoint is None else checkpoint.model_dump(),
        "inclusion": inclusion,
        "checkpoint_note": checkpoint_note,
    }


def encode_bundle(bundle: dict[str, Any]) -> tuple[bytes, str]:
    """Canonical bytes and their SHA-256 (the bundle's content address)."""
    data = canonical_bytes(bundle)
    return data, hashlib.sha256(data).hexdigest()

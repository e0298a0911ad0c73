"""Context snapshots: redacted, canonicalized, stored content-addressed, referenced by hash.

The chain commits to the reference (key, sha256, redacted paths), not to the snapshot,
so the database never holds what a human saw and a swapped object is caught by hash.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gantral.audit.objects import ObjectStore
from gantral.audit.redaction import redact
from gantral.domain.digest import canonical_bytes

__all__ = ["SNAPSHOT_PREFIX", "prepare_snapshot", "snapshot_key", "store_snapshot"]

SNAPSHOT_PREFIX = "snapshots/sha256/"


def snapshot_key(sha256_hex: str) -> str:
    return f"{SNAPSHOT_PREFIX}{sha256_hex}.json"


def prepare_snapshot(
    snapshot: dict[str, Any], redact_paths: list[str]
) -> tuple[bytes, dict[str, Any]]:
    """The canonical bytes to store and the reference that goes into the event body."""
    redacted, removed = redact(snapshot, redact_paths)
    data = canonical_bytes(redacted)
    digest = hashlib.sha256(data).hexdigest()
    return data, {"key": snapshot_key(digest), "sha256": digest, "redacted": removed}


async def store_snapshot(
    objects: ObjectStore, snapshot: dict[str, Any], redact_paths: list[str]
) -> dict[str, Any]:
    data, ref = prepare_snapshot(snapshot, redact_paths)
    await objects.put_locked(str(ref["key"]), data)
    return ref

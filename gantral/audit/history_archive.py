"""Where a sealed instance's Temporal history is archived, and how the log records it.

Once an instance's workflow has closed, the sink writes its history (every run, canonical
JSON, `gantral.audit.history_codec.encode_archive`) to the object-locked bucket under
`histories/<instance>/<sha256>.json`, and records it in the audit log as a chain of its
own, `gantral-history-<instance>`:

    seq 1  HISTORY_ARCHIVED  {"instance_id", "object_key", "sha256", "bytes", "run_ids",
                              "history_events", "audit_head"}
    seq 2  INSTANCE_SEALED   {}

That chain is in the global Merkle log like any other, so signed checkpoints cover the
archive's hash, and it is sealed and exported as an evidence bundle, so the offline
verifier checks an archive file against it with public keys only. The instance's own
chain cannot hold the hash: it is sealed before the workflow closes (the seal is the
workflow's last act), and a history is complete only after that.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from temporalio.client import WorkflowHistory

from gantral.audit.history_codec import decode_archive
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.domain.audit_event import AuditEventType
from gantral.errors import Conflict, Reason

__all__ = [
    "ARCHIVED_TYPE",
    "HISTORY_CHAIN_PREFIX",
    "HISTORY_PREFIX",
    "archive_bytes",
    "archive_key",
    "archive_record",
    "history_chain_id",
    "is_history_chain",
    "load_archive",
]

HISTORY_PREFIX = "histories/"
HISTORY_CHAIN_PREFIX = "gantral-history-"
ARCHIVED_TYPE = AuditEventType.HISTORY_ARCHIVED


def archive_key(instance_id: str, sha256_hex: str) -> str:
    return f"{HISTORY_PREFIX}{quote(instance_id, safe='')}/{sha256_hex}.json"


def history_chain_id(instance_id: str) -> str:
    return f"{HISTORY_CHAIN_PREFIX}{instance_id}"


def is_history_chain(instance_id: str) -> bool:
    return instance_id.startswith(HISTORY_CHAIN_PREFIX)


async def archive_record(queries: AuditQueries, instance_id: str) -> dict[str, Any] | None:
    """The HISTORY_ARCHIVED payload recorded for the instance, if any."""
    for row in await queries.instance_events(history_chain_id(instance_id)):
        if row.type == ARCHIVED_TYPE:
            body = json.loads(row.body)
            payload = body.get("payload")
            if isinstance(payload, dict) and payload.get("instance_id") == instance_id:
                return payload
    return None


async def load_archive(
    queries: AuditQueries, objects: ObjectStore, instance_id: str
) -> list[WorkflowHistory] | None:
    """The archived runs, checked against the hash the log recorded; None if none is."""
    data = await archive_bytes(queries, objects, instance_id)
    return None if data is None else decode_archive(data, instance_id)


async def archive_bytes(
    queries: AuditQueries, objects: ObjectStore, instance_id: str
) -> bytes | None:
    """The archive file, checked against the hash the log recorded; None if none is."""
    record = await archive_record(queries, instance_id)
    if record is None:
        return None
    key, expected = str(record.get("object_key")), str(record.get("sha256"))
    data = await objects.get(key)
    if data is None:
        raise Conflict(
            f"the history archive {key} recorded for {instance_id} is missing",
            reason=Reason.HISTORY_ARCHIVE_MISSING,
        )
    if hashlib.sha256(data).hexdigest() != expected:
        raise Conflict(
            f"the history archive {key} does not match the hash the audit log recorded",
            reason=Reason.HISTORY_ARCHIVE_TAMPERED,
        )
    return data

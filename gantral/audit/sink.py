"""The sink service behind the `gantral.audit.append` activity.

Order matters for fail-closed behaviour: snapshots are written to object storage, then
the batch is committed to PostgreSQL, and only then does the call return; if any step
fails the call raises and the (idempotent) retry redoes only what is missing. A batch
ending in a seal is answered on its commit too: the checkpoint covering the seal and the
evidence bundle are written after, by `gantral.audit.seal_exports`, which this wakes.
"""

from __future__ import annotations

import rfc8785

from gantral.audit.checkpointer import Checkpointer
from gantral.audit.encoding import encode_body, format_at
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.audit.redaction import parse_path
from gantral.audit.rows import PreparedEvent
from gantral.audit.seal_exports import SealExports
from gantral.audit.snapshots import store_snapshot
from gantral.audit.store import SEAL_TYPE, AuditWriter
from gantral.domain.audit_event import AppendAuditEvents, AppendResult, AuditEvent, StoredEvent
from gantral.errors import InvalidInput

__all__ = ["AuditSink"]


class AuditSink:
    def __init__(
        self,
        writer: AuditWriter,
        queries: AuditQueries,
        objects: ObjectStore,
        checkpointer: Checkpointer,
        redact_paths: list[str],
    ) -> None:
        self.writer = writer
        self.queries = queries
        self.objects = objects
        self.checkpointer = checkpointer
        self.exports = SealExports(writer, queries, objects, checkpointer)
        for path in redact_paths:
            parse_path(path)  # a bad path is a configuration error: refuse to start
        self.redact_paths = list(redact_paths)

    async def append(self, request: AppendAuditEvents) -> AppendResult:
        _check_batch(request)
        prepared = [await self._prepare(event) for event in request.events]
        rows = await self.writer.append(request.instance_id, prepared)
        if rows and rows[-1].type == SEAL_TYPE:
            # A retried seal wakes it again: the export checks for a recorded bundle.
            self.exports.wake(request.instance_id)
            if self.checkpointer.divergence is not None:
                # Tampering detected: nothing is signed, and a seal waits (retried) until
                # an operator has looked, as when its export ran here.
                raise self.checkpointer.divergence
        return AppendResult(
            stored=[
                StoredEvent(
                    seq=row.seq,
                    hash=row.hash.hex(),
                    snapshot_key=row.snapshot_key,
                    snapshot_hash=row.snapshot_hash,
                )
                for row in rows
            ]
        )

    async def _prepare(self, event: AuditEvent) -> PreparedEvent:
        try:
            ref = None
            if event.snapshot is not None:
                ref = await store_snapshot(self.objects, event.snapshot, self.redact_paths)
            body = encode_body(event, ref)
        except rfc8785.CanonicalizationError as error:
            # NaN, huge integers, non-string keys: no retry can make this hashable.
            raise InvalidInput(
                f"event {event.instance_id} seq {event.seq} is not canonical JSON: {error}"
            ) from error
        return PreparedEvent(
            seq=event.seq,
            type=str(event.type),
            at=format_at(event.at),
            body=body,
            snapshot_key=None if ref is None else str(ref["key"]),
            snapshot_hash=None if ref is None else str(ref["sha256"]),
        )


def _check_batch(request: AppendAuditEvents) -> None:
    for i, event in enumerate(request.events):
        if event.instance_id != request.instance_id:
            raise InvalidInput(f"event seq {event.seq} belongs to {event.instance_id}")
        if i and event.seq != request.events[i - 1].seq + 1:
            raise InvalidInput(f"batch for {request.instance_id} is not consecutive at {event.seq}")

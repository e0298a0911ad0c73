"""The sink's writes: idempotent, gap-checked appends to the instance chains and the log.

One transaction per batch, under one advisory lock, so global log indices are assigned
in commit order with no holes. Retries are safe: an identical re-sent event is a no-op,
a different event at a stored seq is a `Conflict` (never retried), and a seq beyond the
head is a `SequenceGap` (retried until the missing events arrive).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from psycopg import sql

from gantral.audit.checkpoint import Checkpoint
from gantral.audit.db import Conn, Database
from gantral.audit.encoding import GENESIS, chain_hash
from gantral.audit.read_model import (
    UNKNOWN,
    RequestProjection,
    Stored,
    instance_labels,
    plain,
)
from gantral.audit.rows import (
    EVENT_COLUMNS,
    EventRow,
    PreparedEvent,
    as_int,
    event_from_row,
)
from gantral.domain.audit_event import AuditEventType
from gantral.errors import Conflict, Reason, Unavailable
from gantral.postgres_transaction import transaction

__all__ = ["SEAL_TYPE", "AuditWriter", "SequenceGap"]

log = logging.getLogger("gantral.audit")

SEAL_TYPE = AuditEventType.INSTANCE_SEALED
_LOG_LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"


class SequenceGap(Unavailable):
    """Events arrived beyond the instance head; the earlier ones are still in flight."""

    code = "sequence_gap"


class AuditWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.projection = RequestProjection(db)
        # Called after each commit with the events it stored (none on an idempotent
        # retry): each event is counted once, by the replica that committed it.
        self.on_commit: Callable[[list[Stored]], None] | None = None

    async def append(self, instance_id: str, events: Sequence[PreparedEvent]) -> list[EventRow]:
        """Store the batch; returns the stored rows (new and previously stored) in seq order."""
        if not events:
            return []
        first = events[0].seq
        near_query = sql.SQL(
            "SELECT {} FROM {} WHERE instance_id = %s AND seq >= %s ORDER BY seq"
        ).format(sql.SQL(EVENT_COLUMNS), self.db.table("events"))
        top_query = sql.SQL("SELECT coalesce(max(log_index) + 1, 0) FROM {}").format(
            self.db.table("events")
        )
        watermark_query = self.projection.watermark_query()
        committed: list[Stored] | None = None
        async with self.db.connection() as conn, transaction(conn):
            # One round trip: the lock, then (under it) the batch's neighbourhood, the
            # next log index and how far the read model got. Each statement's snapshot is
            # taken after the lock is held.
            async with conn.pipeline():
                await conn.execute(_LOG_LOCK, (f"{self.db.config.schema_name}.log",))
                near_cur = await conn.execute(near_query, (instance_id, first - 1))
                top_cur = await conn.execute(top_query)
                mark_cur = await conn.execute(watermark_query)
                labels_cur = await conn.execute(self.projection.instance_query(), (instance_id,))
            near = [event_from_row(row) for row in await near_cur.fetchall()]
            top = await top_cur.fetchone()
            next_index = as_int(top[0]) if top else 0
            mark = await mark_cur.fetchone()
            labels = instance_labels(await labels_cur.fetchone())
            by_seq = {row.seq: row for row in near}
            stored: list[EventRow] = []
            fresh: list[PreparedEvent] = []
            for event in events:
                if event.seq in by_seq:
                    if by_seq[event.seq].body != event.body:
                        raise Conflict(
                            f"instance {instance_id} seq {event.seq}: a different event is stored",
                            reason=Reason.AUDIT_SEQ_CONFLICT,
                        )
                    stored.append(by_seq[event.seq])
                else:
                    fresh.append(event)
            if fresh:
                head = near[-1] if near else None
                if head is None and first > 1:
                    head_seq = await self._head_seq(conn, instance_id)
                    raise SequenceGap(
                        f"instance {instance_id}: got seq {first}, head is {head_seq}",
                        reason=Reason.AUDIT_SEQ_GAP,
                    )
                inserted = await self._insert(conn, instance_id, head, fresh, next_index)
                stored += inserted
                # The read model, in this transaction: it never disagrees with the log.
                watermark = as_int(mark[0]) if mark else next_index
                known = {instance_id: labels} if labels[0] != UNKNOWN else None
                committed = await self.projection.advance(conn, watermark, inserted, known)
                if committed is None:  # projection behind: count without its labels
                    committed = [plain(row) for row in inserted]
        if committed and self.on_commit is not None:
            try:
                self.on_commit(committed)
            except Exception as error:  # the batch is stored: a metric must not fail it
                log.warning("counting a stored batch failed: %s", type(error).__name__)
        return stored

    async def _head_seq(self, conn: Conn, instance_id: str) -> int:
        query = sql.SQL("SELECT coalesce(max(seq), 0) FROM {} WHERE instance_id = %s")
        cur = await conn.execute(query.format(self.db.table("events")), (instance_id,))
        row = await cur.fetchone()
        return as_int(row[0]) if row else 0

    async def _insert(
        self,
        conn: Conn,
        instance_id: str,
        head: EventRow | None,
        fresh: list[PreparedEvent],
        next_index: int,
    ) -> list[EventRow]:
        head_seq = head.seq if head else 0
        if fresh[0].seq != head_seq + 1:
            raise SequenceGap(
                f"instance {instance_id}: got seq {fresh[0].seq}, head is {head_seq}",
                reason=Reason.AUDIT_SEQ_GAP,
            )
        if head is not None and head.type == SEAL_TYPE:
            raise Conflict(
                f"instance {instance_id} is sealed at seq {head_seq}", reason=Reason.AUDIT_SEALED
            )
        events = self.db.table("events")
        prev = head.hash if head else GENESIS
        rows: list[EventRow] = []
        for i, event in enumerate(fresh):
            if event.seq != head_seq + 1 + i:
                raise SequenceGap(f"instance {instance_id}: batch skips seq {head_seq + 1 + i}")
            if event.type == SEAL_TYPE and i != len(fresh) - 1:
                raise Conflict(f"instance {instance_id}: events after the seal at {event.seq}")
            digest = chain_hash(prev, event.body)
            rows.append(
                EventRow(
                    next_index + i,
                    instance_id,
                    event.seq,
                    event.type,
                    event.body,
                    prev,
                    digest,
                    event.snapshot_key,
                    event.snapshot_hash,
                )
            )
            prev = digest
        copy_sql = sql.SQL(
            "COPY {} (log_index, instance_id, seq, type, at, body, prev_hash, hash,"
            " snapshot_key, snapshot_hash) FROM STDIN"
        ).format(events)
        async with conn.cursor().copy(copy_sql) as copy:
            for stored_row, event in zip(rows, fresh, strict=True):
                await copy.write_row(
                    (
                        stored_row.log_index,
                        instance_id,
                        stored_row.seq,
                        stored_row.type,
                        event.at,
                        stored_row.body,
                        stored_row.prev_hash,
                        stored_row.hash,
                        stored_row.snapshot_key,
                        stored_row.snapshot_hash,
                    )
                )
        last = rows[-1]
        if last.type == SEAL_TYPE:
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (instance_id, seq, log_index, head_hash)"
                    " VALUES (%s, %s, %s, %s)"
                ).format(self.db.table("seals")),
                (instance_id, last.seq, last.log_index, last.hash),
            )
        return rows

    async def record_bundle(self, instance_id: str, key: str, sha256: str) -> None:
        query = sql.SQL(
            "INSERT INTO {} (instance_id, object_key, sha256) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING"
        ).format(self.db.table("bundles"))
        async with self.db.connection() as conn, transaction(conn):
            await conn.execute(query, (instance_id, key, sha256))

    async def record_checkpoint(self, cp: Checkpoint, note: str) -> None:
        """`note`: the same checkpoint as a C2SP signed note, stored verbatim (column of
        migration 3)."""
        query = sql.SQL(
            "INSERT INTO {} (size, origin, root, timestamp, key_id, signature, note)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        ).format(self.db.table("checkpoints"))
        async with self.db.connection() as conn, transaction(conn):
            await conn.execute(
                query, (cp.size, cp.origin, cp.root, cp.timestamp, cp.key_id, cp.signature, note)
            )

    async def record_cosigned_checkpoint(self, size: int, note: str, cosigners: int) -> None:
        """A checkpoint note with its witnesses' cosignatures, verbatim (migration 4)."""
        query = sql.SQL(
            "INSERT INTO {} (size, note, cosigners) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
        ).format(self.db.table("cosigned_checkpoints"))
        async with self.db.connection() as conn, transaction(conn):
            await conn.execute(query, (size, note, cosigners))

"""Reads of the audit tables, used by the verifier, the bundle export and the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

from psycopg import sql

from gantral.audit.checkpoint import Checkpoint
from gantral.audit.db import Database
from gantral.audit.rows import EVENT_COLUMNS, EventRow, SealRow, as_bytes, as_int, event_from_row

__all__ = ["AuditQueries"]


def _checkpoint(row: tuple[object, ...]) -> Checkpoint:
    size, origin, root, ts, kid, sig = row
    return Checkpoint(
        origin=str(origin),
        size=as_int(size),
        root=str(root),
        timestamp=str(ts),
        key_id=str(kid),
        signature=str(sig),
    )


class AuditQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def instance_events(self, instance_id: str) -> list[EventRow]:
        query = sql.SQL("SELECT {} FROM {} WHERE instance_id = %s ORDER BY seq").format(
            sql.SQL(EVENT_COLUMNS), self.db.table("events")
        )
        async with self.db.connection() as conn:
            cur = await conn.execute(query, (instance_id,))
            return [event_from_row(r) for r in await cur.fetchall()]

    async def all_events(self, batch: int = 10_000) -> AsyncIterator[EventRow]:
        """Every event ordered by instance then seq, streamed with a server-side cursor."""
        query = sql.SQL("SELECT {} FROM {} ORDER BY instance_id, seq").format(
            sql.SQL(EVENT_COLUMNS), self.db.table("events")
        )
        async with self.db.connection() as conn, conn.transaction():
            cur = conn.cursor(name="gantral_audit_all", withhold=False)
            cur.itersize = batch
            await cur.execute(query)
            async for row in cur:
                yield event_from_row(row)
            await cur.close()

    async def leaves(self, from_index: int = 0, to_index: int | None = None) -> list[EventRow]:
        """Events by global log index (only index and hash matter to the Merkle tree)."""
        bound = sql.SQL("") if to_index is None else sql.SQL("AND log_index < %(to)s")
        query = sql.SQL(
            "SELECT log_index, hash FROM {} WHERE log_index >= %(from)s {} ORDER BY log_index"
        ).format(self.db.table("events"), bound)
        async with self.db.connection() as conn:
            cur = await conn.execute(query, {"from": from_index, "to": to_index})
            return [
                EventRow(as_int(i), "", 0, "", b"", b"", as_bytes(h))
                for i, h in await cur.fetchall()
            ]

    async def log_size(self) -> int:
        query = sql.SQL("SELECT count(*) FROM {}").format(self.db.table("events"))
        async with self.db.connection() as conn:
            row = await (await conn.execute(query)).fetchone()
            return as_int(row[0]) if row else 0

    async def instance_ids(self) -> list[str]:
        query = sql.SQL("SELECT DISTINCT instance_id FROM {} ORDER BY 1").format(
            self.db.table("events")
        )
        async with self.db.connection() as conn:
            return [str(r[0]) for r in await (await conn.execute(query)).fetchall()]

    async def seals(self, instance_id: str | None = None) -> dict[str, SealRow]:
        where = sql.SQL("") if instance_id is None else sql.SQL("WHERE instance_id = %s")
        query = sql.SQL("SELECT instance_id, seq, log_index, head_hash FROM {} {}").format(
            self.db.table("seals"), where
        )
        params = () if instance_id is None else (instance_id,)
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        return {str(i): SealRow(str(i), as_int(s), as_int(li), as_bytes(h)) for i, s, li, h in rows}

    async def checkpoints(self) -> list[Checkpoint]:
        query = sql.SQL(
            "SELECT size, origin, root, timestamp, key_id, signature FROM {} ORDER BY size"
        ).format(self.db.table("checkpoints"))
        async with self.db.connection() as conn:
            return [_checkpoint(r) for r in await (await conn.execute(query)).fetchall()]

    async def latest_checkpoint(self) -> Checkpoint | None:
        query = sql.SQL(
            "SELECT size, origin, root, timestamp, key_id, signature FROM {}"
            " ORDER BY size DESC LIMIT 1"
        ).format(self.db.table("checkpoints"))
        async with self.db.connection() as conn:
            row = await (await conn.execute(query)).fetchone()
        return None if row is None else _checkpoint(row)

    async def bundle_keys(self, instance_id: str) -> list[str]:
        query = sql.SQL(
            "SELECT object_key FROM {} WHERE instance_id = %s ORDER BY exported_at DESC"
        ).format(self.db.table("bundles"))
        async with self.db.connection() as conn:
            rows = await (await conn.execute(query, (instance_id,))).fetchall()
        return [str(r[0]) for r in rows]

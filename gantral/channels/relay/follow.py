"""Reading the audit log after a cursor (the global log index, assigned in commit order
under the store's lock, so nothing committed later can appear behind the cursor)."""

from __future__ import annotations

import asyncio
import json
import time

from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from temporalio import activity

from gantral.audit.db import Conn
from gantral.audit.rows import as_bytes
from gantral.channels.relay.messages import FOLLOWED, ChannelEvent, EventBatch, ReadEvents

__all__ = ["AuditFollower"]

_POLL_SECONDS = 0.5


class AuditFollower:
    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self._pool = pool

    async def _read(self, ask: ReadEvents) -> EventBatch:
        table = sql.SQL("{}.{}").format(sql.Identifier(ask.schema_name), sql.Identifier("events"))
        async with self._pool.connection() as conn:
            row = await (
                await conn.execute(
                    sql.SQL("SELECT coalesce(max(log_index), -1) FROM {}").format(table)
                )
            ).fetchone()
            head = int(str(row[0])) if row else -1
            if ask.after is None:
                return EventBatch(events=[], head=head)
            cur = await conn.execute(
                sql.SQL(
                    "SELECT log_index, instance_id, type, body FROM {} WHERE log_index > %s"
                    " AND type = ANY(%s) ORDER BY log_index LIMIT %s"
                ).format(table),
                (ask.after, list(FOLLOWED), ask.limit),
            )
            events = []
            for log_index, instance_id, kind, body in await cur.fetchall():
                payload = json.loads(as_bytes(body)).get("payload") or {}
                events.append(
                    ChannelEvent(
                        log_index=int(str(log_index)),
                        instance_id=str(instance_id),
                        type=str(kind),
                        payload=payload if isinstance(payload, dict) else {},
                    )
                )
        return EventBatch(events=events, head=head)

    @activity.defn(name="gantral_channel_read_events")
    async def read_events(self, ask: ReadEvents) -> EventBatch:
        """Events after `ask.after`, waiting up to `wait_seconds` for the first one."""
        deadline = time.monotonic() + ask.wait_seconds
        while True:
            batch = await self._read(ask)
            if batch.events or ask.after is None or time.monotonic() >= deadline:
                return batch
            activity.heartbeat()
            await asyncio.sleep(_POLL_SECONDS)

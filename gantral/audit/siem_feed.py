"""The SIEM exporter's input and memory: committed events read from the audit log in log
order, and, in a schema of its own, the cursor (per exporter name, the last log index
handed over) and the dead letters.

Log indices are assigned under one lock in commit order with no holes, so reading
`log_index > cursor` in index order sees each instance's events in seq order. A hole (an
index not yet visible) ends the batch: nothing after it is exported before it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from gantral.audit.db import Database
from gantral.audit.rows import EVENT_COLUMNS, EventRow, as_int, event_from_row
from gantral.postgres_migrations import apply_migrations
from gantral.postgres_transaction import transaction

__all__ = ["DeadLetter", "ExportLease", "ExportState", "committed_after"]

log = logging.getLogger("gantral.exporter")

_MIGRATIONS = [
    """CREATE TABLE {schema}.cursors (
         exporter   text PRIMARY KEY,
         log_index  bigint NOT NULL CHECK (log_index >= -1),
         updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE {schema}.dead_letters (
         exporter    text NOT NULL,
         log_index   bigint NOT NULL,
         event_id    text NOT NULL,
         attempts    int NOT NULL,
         error       text NOT NULL,
         record      jsonb NOT NULL,
         failed_at   timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (exporter, log_index))""",
]


async def committed_after(db: Database, cursor: int, limit: int) -> list[EventRow]:
    """Up to `limit` committed events after log index `cursor`, contiguous from it."""
    query = sql.SQL("SELECT {} FROM {} WHERE log_index > %s ORDER BY log_index LIMIT %s").format(
        sql.SQL(EVENT_COLUMNS), db.table("events")
    )
    async with db.connection() as conn:
        cur = await conn.execute(query, (cursor, limit))
        rows = [event_from_row(row) for row in await cur.fetchall()]
        await conn.rollback()  # a pooled connection goes back idle, not in a transaction
    contiguous: list[EventRow] = []
    for row in rows:
        if row.log_index != cursor + 1 + len(contiguous):
            # Not yet visible (or, were it never to be, a broken log `gantral audit
            # verify` reports): nothing after it goes out first.
            log.info("waiting for audit log index %d", cursor + 1 + len(contiguous))
            break
        contiguous.append(row)
    return contiguous


@dataclass(frozen=True)
class DeadLetter:
    log_index: int
    event_id: str
    attempts: int
    error: str
    record: dict[str, Any]


class ExportState:
    """The cursor and dead letters of exporters, in `schema` (created on first use)."""

    def __init__(self, pool: AsyncConnectionPool[Any], schema: str) -> None:
        self._pool = pool
        self._schema = schema

    def _table(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self._schema), sql.Identifier(name))

    async def migrate(self) -> int:
        return await apply_migrations(
            self._pool, self._schema, _MIGRATIONS, f"gantral_export_migrate:{self._schema}"
        )

    async def cursor(self, exporter: str) -> int:
        """The last log index handed over (-1: none yet)."""
        query = sql.SQL("SELECT log_index FROM {} WHERE exporter = %s").format(
            self._table("cursors")
        )
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, (exporter,))
            row = await cur.fetchone()
        return -1 if row is None else as_int(row[0])

    async def advance(self, exporter: str, log_index: int) -> None:
        """Never moves back: a stale process cannot rewind another's progress."""
        query = sql.SQL(
            "INSERT INTO {t} (exporter, log_index) VALUES (%s, %s) ON CONFLICT (exporter)"
            " DO UPDATE SET log_index = greatest({t}.log_index, excluded.log_index),"
            " updated_at = now()"
        ).format(t=self._table("cursors"))
        async with self._pool.connection() as conn, transaction(conn):
            await conn.execute(query, (exporter, log_index))

    async def dead_letter(self, exporter: str, letter: DeadLetter) -> None:
        query = sql.SQL(
            "INSERT INTO {} (exporter, log_index, event_id, attempts, error, record)"
            " VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING"
        ).format(self._table("dead_letters"))
        async with self._pool.connection() as conn, transaction(conn):
            await conn.execute(
                query,
                (
                    exporter,
                    letter.log_index,
                    letter.event_id,
                    letter.attempts,
                    letter.error,
                    json.dumps(letter.record),
                ),
            )

    async def dead_letters(self, exporter: str) -> list[DeadLetter]:
        query = sql.SQL(
            "SELECT log_index, event_id, attempts, error, record::text FROM {}"
            " WHERE exporter = %s ORDER BY log_index"
        ).format(self._table("dead_letters"))
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, (exporter,))
            rows = await cur.fetchall()
        return [
            DeadLetter(as_int(r[0]), str(r[1]), as_int(r[2]), str(r[3]), json.loads(str(r[4])))
            for r in rows
        ]


class ExportLease:
    """One active exporter per name: a PostgreSQL session lock on a connection of its own.
    Replicas (or an old and a new pod during a rollout) wait as standbys, so two never
    interleave deliveries and break an instance's order. A lost connection loses the lock,
    and the next `hold` must win it again before exporting."""

    def __init__(self, dsn: str, schema: str, name: str) -> None:
        self._dsn = dsn
        self._key = f"gantral_export:{schema}:{name}"
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._held = False

    async def hold(self) -> bool:
        """Whether this process is the active exporter now (trying to become it if not)."""
        try:
            if self._conn is None or self._conn.closed:
                self._held = False
                self._conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
            if self._held:
                await self._conn.execute("SELECT 1")  # still connected, so still locked
                return True
            cur = await self._conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self._key,)
            )
            row = await cur.fetchone()
            self._held = bool(row and row[0])
        except psycopg.Error:
            await self.release()
        return self._held

    async def release(self) -> None:
        self._held = False
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
            self._conn = None

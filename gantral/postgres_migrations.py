"""Numbered schema migrations of Gantral's own PostgreSQL stores (the policy registry,
the halt book, readiness): one way to apply them, below every area that keeps a store.
The audit store keeps its own (`gantral.audit.migrations`): roles, guards and backfills.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from gantral.postgres_transaction import transaction

__all__ = ["apply_migrations"]


async def apply_migrations(
    pool: AsyncConnectionPool[Any], schema: str, migrations: Sequence[str], lock: str
) -> int:
    """Apply the `migrations` not yet applied in `schema` (each statement may name
    `{schema}`), recording each in `{schema}.migrations`. Safe from many processes at once:
    `lock` (one key per store) serializes them. Returns how many were applied."""
    ident = sql.Identifier(schema)

    def q(text: str) -> sql.Composed:
        return sql.SQL(text).format(schema=ident)

    async with pool.connection() as conn, transaction(conn):
        # Serializes concurrent migrators (API and workers starting together).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock,))
        await conn.execute(q("CREATE SCHEMA IF NOT EXISTS {schema}"))
        await conn.execute(
            q(
                "CREATE TABLE IF NOT EXISTS {schema}.migrations "
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        )
        cur = await conn.execute(q("SELECT coalesce(max(version), 0) FROM {schema}.migrations"))
        row = await cur.fetchone()
        done = int(row[0]) if row else 0
        for number, statement in enumerate(migrations[done:], start=done + 1):
            await conn.execute(q(statement))
            await conn.execute(
                q("INSERT INTO {schema}.migrations (version) VALUES (%s)"), (number,)
            )
        return len(migrations) - done

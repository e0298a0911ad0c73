"""Where audit code gets a connection: a pool in the processes, one fixed connection in tests.

The fixed-connection mode lets the tamper suite run the real verifier inside an
uncommitted superuser transaction and roll every attack back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gantral.settings.audit import AuditSettings

__all__ = ["Database", "open_pool"]

Conn = psycopg.AsyncConnection[tuple[object, ...]]


class Database:
    def __init__(
        self,
        config: AuditSettings,
        *,
        pool: AsyncConnectionPool[Conn] | None = None,
        conn: Conn | None = None,
    ) -> None:
        if (pool is None) == (conn is None):
            raise ValueError("give exactly one of pool or conn")
        self.config = config
        self._pool = pool
        self._conn = conn

    def table(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(
            sql.Identifier(self.config.schema_name), sql.Identifier(name)
        )

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        if self._conn is not None:
            yield self._conn
            return
        assert self._pool is not None
        async with self._pool.connection() as conn:
            yield conn


def _set_role(role: str) -> Callable[[Conn], Awaitable[None]]:
    """Drop to the least-privileged audit role when the login role is a member of it."""

    async def configure(conn: Conn) -> None:
        cur = await conn.execute(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(r)s)"
            " THEN pg_has_role(current_user, %(r)s, 'MEMBER') ELSE false END",
            {"r": role},
        )
        row = await cur.fetchone()
        if row is not None and row[0]:
            await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        await conn.commit()

    return configure


async def open_pool(
    dsn: str, role: str, *, max_size: int = 8, wait_seconds: float = 30.0
) -> AsyncConnectionPool[Conn]:
    """A pool whose connections act as `role`; broken connections are replaced on checkout.
    Waits up to `wait_seconds` for its first connection (a process starting beside its
    database), then raises why it could not connect."""
    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        dsn,
        open=False,
        min_size=1,
        max_size=max_size,
        configure=_set_role(role),
        check=AsyncConnectionPool.check_connection,
        timeout=10.0,
    )
    try:
        await pool.open(wait=True, timeout=wait_seconds)
    except PoolTimeout:
        await pool.close()
        # The pool says only that it timed out; one direct attempt says why.
        conn = await psycopg.AsyncConnection.connect(dsn, connect_timeout=5)
        await conn.close()
        raise
    return pool

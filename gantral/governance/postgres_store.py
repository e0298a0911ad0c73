"""What every governance store on PostgreSQL shares (halts, break-glasses, standing
grants, delegations): the registry database's pool, or none and memory instead; a
schema of numbered migrations; append-only triggers; a database that is down as a 503.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from psycopg import sql
from psycopg.errors import (
    ForeignKeyViolation,
    UniqueViolation,
)
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from gantral.errors import GantralError, Reason
from gantral.postgres_migrations import apply_migrations
from gantral.postgres_outage import database_reachable
from gantral.settings import Settings

__all__ = ["PostgresStore", "append_only", "refuse_change", "registry_pool"]


def refuse_change(message: str) -> str:
    """Migration text: the schema's `refuse_change()` trigger function, raising `message`.
    Released migrations are built from this and `append_only`: their output never changes."""
    return f"""
    CREATE FUNCTION {{schema}}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege';
    END $$;
    """


def append_only(*tables: str) -> str:
    """Migration text: triggers refusing UPDATE, DELETE and TRUNCATE on `tables` (the
    schema's `refuse_change()` must exist)."""
    return "".join(
        f"""
    CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {{schema}}.{table}
        FOR EACH ROW EXECUTE FUNCTION {{schema}}.refuse_change();
    CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {{schema}}.{table}
        FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.refuse_change();
    """
        for table in tables
    )


@contextlib.asynccontextmanager
async def registry_pool(
    settings: Settings, log: logging.Logger, what: str, *, max_size: int
) -> AsyncIterator[AsyncConnectionPool[Any] | None]:
    """A pool on the registry's database; None (with a warning) when none is configured,
    for the caller to keep `what` in memory."""
    dsn = settings.database.registry_url.get_secret_value()
    if not dsn:
        log.warning("no GANTRAL_DATABASE__REGISTRY_URL: %s are kept in memory only", what)
        yield None
        return
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        dsn, open=False, min_size=1, max_size=max_size, check=AsyncConnectionPool.check_connection
    )
    await pool.open(wait=True, timeout=30)
    try:
        yield pool
    finally:
        await pool.close()


class PostgresStore:
    """A store's tables in one schema, on a psycopg pool opened by the caller."""

    MIGRATIONS: ClassVar[Sequence[str]]
    # Default schema; its migrations' advisory lock is keyed `{SCHEMA}_migrations:{schema}`.
    SCHEMA: ClassVar[str]
    # Named in the 503 while the database is down: "the {WHAT} database is unavailable".
    WHAT: ClassVar[str]
    UNAVAILABLE: ClassVar[Reason]

    def __init__(self, pool: AsyncConnectionPool[Any], *, schema: str | None = None) -> None:
        self._pool = pool
        self._schema_name = schema or self.SCHEMA
        self._schema = sql.Identifier(self._schema_name)

    def _sql(self, statement: str) -> sql.Composed:
        return sql.SQL(statement).format(schema=self._schema)

    async def migrate(self) -> int:
        """Apply pending migrations (safe from many processes at once); how many were."""
        lock = f"{self.SCHEMA}_migrations:{self._schema.as_string()}"
        return await apply_migrations(self._pool, self._schema_name, self.MIGRATIONS, lock)

    def _database(self) -> contextlib.AbstractContextManager[None]:
        """An outage of this store's database is a 503 with its reason, never a 500."""
        return database_reachable(self.WHAT, self.UNAVAILABLE)

    async def _execute(
        self,
        statement: str,
        params: tuple[Any, ...],
        *,
        duplicate: GantralError | None = None,
        missing: GantralError | None = None,
    ) -> None:
        """Run one statement; a row already there raises `duplicate`, a reference to
        none raises `missing` (when given)."""
        try:
            with self._database():
                async with self._pool.connection() as conn:
                    await conn.execute(self._sql(statement), params)
        except UniqueViolation:
            if duplicate is None:
                raise
            raise duplicate from None
        except ForeignKeyViolation:
            if missing is None:
                raise
            raise missing from None

    async def _rows(self, query: sql.Composed, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self._database():
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, params)
                rows: list[dict[str, Any]] = await cur.fetchall()
                return rows

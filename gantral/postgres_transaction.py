"""A PostgreSQL transaction block that never reports a commit that did not happen.

psycopg's `conn.transaction()` leaves its block silently, without COMMIT and without an
exception, when the connection broke inside the block but no statement raised there (for
example an error caught inside the block, as the audit read model catches its own). The
caller would then answer success for writes the server rolled back: the audit sink once
acknowledged a batch that was never stored while PostgreSQL restarted. Every write in
Gantral goes through `transaction`, which raises instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncTransaction

__all__ = ["transaction"]


@asynccontextmanager
async def transaction(
    conn: psycopg.AsyncConnection[Any], *, force_rollback: bool = False
) -> AsyncIterator[AsyncTransaction]:
    """`conn.transaction()`, raising `psycopg.OperationalError` (an outage, retried as one)
    when the block ended without its COMMIT (or savepoint release) reaching the server.
    `force_rollback`: a read that must change nothing, rolled back at the end."""
    async with conn.transaction(force_rollback=force_rollback) as tx:
        yield tx
    if tx.status is AsyncTransaction.Status.FAILED:
        raise psycopg.OperationalError(
            "the connection to PostgreSQL broke before the transaction committed"
        )

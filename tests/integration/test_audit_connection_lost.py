"""A batch is acknowledged only once PostgreSQL committed it.

The fault test that stops PostgreSQL mid-stream found an instance whose batch the sink had
acknowledged but never stored: its connection died inside the append's transaction, the
read model's own savepoint caught the error (a projection failure must not stop storage),
and psycopg then left the transaction block without COMMIT and without an exception. Here
the same break is made on purpose, at the same place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from gantral.audit.db import Conn
from gantral.audit.testing import TestSink, make_events, open_test_sink, unique
from gantral.audit.testing import without_attested_kinds as plain_kinds
from gantral.domain.audit_event import AppendAuditEvents
from gantral.postgres_transaction import transaction

pytestmark = pytest.mark.integration


@pytest.fixture
async def ts(stack: Any) -> AsyncIterator[TestSink]:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as sink:
        yield sink


async def _terminate(dsn: str, pid: int) -> None:
    """Kill one server backend, as a PostgreSQL shutdown does, and wait until it is gone."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):
            cur = await admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
            if await cur.fetchone() is None:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} still running")


async def test_a_batch_whose_connection_dies_before_commit_is_not_acknowledged(
    stack: Any, ts: TestSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    iid = unique("lost")
    events = plain_kinds(make_events(iid, 4, sealed=False))
    await ts.sink.append(AppendAuditEvents(instance_id=iid, events=events[:2]))

    advance = ts.writer.projection.advance

    async def dying(conn: Conn, *args: Any, **kwargs: Any) -> Any:
        await _terminate(stack.postgres_uri, conn.info.backend_pid)
        return await advance(conn, *args, **kwargs)  # fails inside, and swallows it

    monkeypatch.setattr(ts.writer.projection, "advance", dying)
    second = AppendAuditEvents(instance_id=iid, events=events[2:])
    with pytest.raises(psycopg.OperationalError):
        await ts.sink.append(second)
    assert [r.seq for r in await ts.queries.instance_events(iid)] == [1, 2]

    # The retry (as Temporal retries the activity) stores the batch once.
    monkeypatch.setattr(ts.writer.projection, "advance", advance)
    result = await ts.sink.append(second)
    assert [s.seq for s in result.stored] == [3, 4]
    assert [r.seq for r in await ts.queries.instance_events(iid)] == [1, 2, 3, 4]


async def test_psycopg_alone_leaves_a_broken_transaction_block_silently(stack: Any) -> None:
    """Why `transaction` exists: should psycopg start raising here, it may go."""
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        async with conn.transaction() as tx:
            await conn.execute("SELECT 1")
            await _terminate(stack.postgres_uri, conn.info.backend_pid)
            with pytest.raises(psycopg.OperationalError):
                await conn.execute("SELECT 1")
            # An error handled inside the block, as the read model handles its own.
        assert tx.status is tx.Status.FAILED
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        with pytest.raises(psycopg.OperationalError, match="before the transaction committed"):
            async with transaction(conn):
                await conn.execute("SELECT 1")
                await _terminate(stack.postgres_uri, conn.info.backend_pid)
                with pytest.raises(psycopg.OperationalError):
                    await conn.execute("SELECT 1")

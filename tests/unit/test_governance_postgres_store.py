"""The PostgreSQL half the governance stores share: a database that cannot be reached is
each store's own 503 reason (never a 500), without any server running."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from gantral.errors import Reason, Unavailable
from gantral.governance.break_glass_store import PostgresBreakGlassStore
from gantral.governance.delegation_store import PostgresDelegationStore
from gantral.governance.halt_store import PostgresHaltStore
from gantral.governance.postgres_store import PostgresStore, append_only
from gantral.governance.standing_store import PostgresStandingStore


@pytest.fixture
async def unreachable() -> AsyncIterator[AsyncConnectionPool[Any]]:
    # Port 1: nothing listens, so every connection is refused and the pool times out.
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        "postgresql://gantral@127.0.0.1:1/gantral?connect_timeout=1",
        open=False, min_size=0, max_size=1, timeout=0.5,
    )  # fmt: skip
    await pool.open(wait=False)
    try:
        yield pool
    finally:
        await pool.close()


Read = Callable[[Any], Awaitable[object]]
CASES: list[tuple[type[PostgresStore], Read, Reason, str]] = [
    (PostgresHaltStore, lambda s: s.read(), Reason.HALTS_UNAVAILABLE, "halts"),
    # Kept beside the halts: their outage is the halts'.
    (PostgresBreakGlassStore, lambda s: s.read(), Reason.HALTS_UNAVAILABLE, "halts"),
    (PostgresStandingStore, lambda s: s.read(), Reason.STANDING_UNAVAILABLE, "standing grants"),
    (
        PostgresDelegationStore,
        lambda s: s.current(datetime.now(UTC)),
        Reason.DELEGATIONS_UNAVAILABLE,
        "delegations",
    ),
]


@pytest.mark.parametrize(("store", "read", "reason", "what"), CASES)
async def test_a_database_that_is_down_is_the_stores_own_503(
    unreachable: AsyncConnectionPool[Any],
    store: type[PostgresStore],
    read: Read,
    reason: Reason,
    what: str,
) -> None:
    with pytest.raises(Unavailable) as caught:
        await read(store(unreachable))
    assert caught.value.reason == reason
    assert str(caught.value).startswith(f"the {what} database is unavailable: ")


async def test_a_write_while_down_is_a_503_too(unreachable: AsyncConnectionPool[Any]) -> None:
    with pytest.raises(Unavailable) as caught:
        await PostgresStandingStore(unreachable).release("sg-1")
    assert caught.value.reason == Reason.STANDING_UNAVAILABLE


def test_append_only_guards_every_table_against_change_and_truncate() -> None:
    text = append_only("a", "b_c")
    for table in ("a", "b_c"):
        assert f"TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {{schema}}.{table}" in text
        assert f"TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {{schema}}.{table}" in text
    assert text.count("EXECUTE FUNCTION {schema}.refuse_change()") == 4

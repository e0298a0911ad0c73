"""The policy registry's database out of reach: a typed 503 naming the registry, never a
500 (a bare PoolTimeout used to reach the API's error handler)."""

from __future__ import annotations

import pytest
from psycopg import OperationalError
from psycopg.errors import InsufficientPrivilege, UndefinedTable, UniqueViolation
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gantral.devstack.process import free_port
from gantral.errors import Reason, Unavailable
from gantral.policy.models import Policy
from gantral.policy.registry_postgres import PostgresRegistry
from gantral.postgres_outage import database_reachable


async def test_reads_and_writes_without_the_database_are_503_registry_unavailable() -> None:
    # Nothing listens on the port: every connection attempt fails, the pool times out.
    dsn = f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1"
    pool: AsyncConnectionPool = AsyncConnectionPool(dsn, open=False, min_size=1, timeout=0.5)
    await pool.open(wait=False)
    registry = PostgresRegistry(pool)
    try:
        with pytest.raises(Unavailable) as read:
            await registry.get_policy("deploy")
        with pytest.raises(Unavailable) as written:
            await registry.put_policy("deploy", Policy(id="deploy"))
    finally:
        await pool.close()
    for refused in (read.value, written.value):
        assert refused.reason is Reason.REGISTRY_UNAVAILABLE
        assert "policy registry" in refused.message


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (UndefinedTable('relation "documents" does not exist'), "tables cannot be read"),
        (InsufficientPrivilege("permission denied for table documents"), "tables cannot be read"),
        (OperationalError("connection refused"), "database is unavailable"),
        (PoolTimeout("couldn't get a connection after 0.50 sec"), "database is unavailable"),
    ],
    ids=["undefined-table", "insufficient-privilege", "operational", "pool-timeout"],
)
def test_the_one_outage_mapping_names_the_store_and_its_reason(error: Exception, said: str) -> None:
    # The registry and every governance store map an outage through this one helper.
    with (
        pytest.raises(Unavailable) as caught,
        database_reachable("policy registry", Reason.REGISTRY_UNAVAILABLE),
    ):
        raise error
    assert caught.value.reason is Reason.REGISTRY_UNAVAILABLE
    assert caught.value.message.startswith(f"the policy registry {said}")
    assert caught.value.__cause__ is error


def test_anything_else_passes_through_unchanged() -> None:
    with pytest.raises(UniqueViolation), database_reachable("halts", Reason.HALTS_UNAVAILABLE):
        raise UniqueViolation("duplicate key")

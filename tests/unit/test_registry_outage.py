"""The policy registry's database out of reach: a typed 503 naming the registry, never a
500 (a bare PoolTimeout used to reach the API's error handler)."""

from __future__ import annotations

import pytest
from psycopg_pool import AsyncConnectionPool

from gantral.devstack.process import free_port
from gantral.errors import Reason, Unavailable
from gantral.policy.models import Policy
from gantral.policy.registry_postgres import PostgresRegistry


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

"""The PostgreSQL registry on the real server: versions, idempotency, immutability."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from gantral.errors import Conflict, NotFound
from gantral.policy.evaluate import plan_request
from gantral.policy.loading import load_policy, load_template
from gantral.policy.models import Materiality
from gantral.policy.registry import pin_template
from gantral.policy.registry_postgres import MIGRATIONS, PostgresRegistry
from tests.helpers.stack import Stack

pytestmark = pytest.mark.integration

V1 = load_policy("materiality: MEDIUM\n")
V2 = load_policy("materiality: HIGH\nrequires_human_approval: true\napprovers: [{role: A}]\n")
FLOW = "id: flow\nsteps:\n  - id: pay\n    policy_ref: {id: pay}\n"


@pytest_asyncio.fixture(loop_scope="session")
async def registry(stack: Stack) -> AsyncIterator[PostgresRegistry]:
    schema = f"gantral_registry_test_{uuid.uuid4().hex[:8]}"
    pool = AsyncConnectionPool(stack.postgres_uri, min_size=1, max_size=4, open=False)
    await pool.open()
    try:
        reg = PostgresRegistry(pool, schema=schema)
        assert await reg.migrate() == len(MIGRATIONS)
        yield reg
    finally:
        async with pool.connection() as conn:
            await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        await pool.close()


async def test_migrations_are_idempotent(registry: PostgresRegistry) -> None:
    assert await registry.migrate() == 0
    assert await asyncio.gather(registry.migrate(), registry.migrate()) == [0, 0]


async def test_put_get_versions(registry: PostgresRegistry) -> None:
    first = await registry.put_policy("pay", V1, source="test")
    again = await registry.put_policy("pay", load_policy("materiality: MEDIUM"))
    second = await registry.put_policy("pay", V2)
    assert (first.created, again.created, second.created) == (True, False, True)
    assert again.stored == first.stored
    assert second.stored.version == 2
    assert second.stored.content_hash == V2.model_copy(update={"id": "pay"}).content_hash()
    assert await registry.get_policy("pay") == second.stored
    assert await registry.get_policy("pay", 1) == first.stored
    assert [p.version for p in await registry.policy_versions("pay")] == [1, 2]
    assert [(p.policy_id, p.version) for p in await registry.list_policies()] == [("pay", 2)]
    revert = await registry.put_policy("pay", V1)
    assert revert.created and revert.stored.version == 3


async def test_unknown_and_conflicts(registry: PostgresRegistry) -> None:
    with pytest.raises(NotFound) as unknown:
        await registry.get_policy("nope")
    assert unknown.value.reason == "unknown_policy"
    await registry.put_policy("p", V1)
    with pytest.raises(NotFound) as missing:
        await registry.get_policy("p", 9)
    assert missing.value.reason == "unknown_version"
    with pytest.raises(Conflict):
        await registry.put_policy("p", V2, expected_version=1)


async def test_concurrent_puts_get_distinct_versions_or_the_same_one(
    registry: PostgresRegistry,
) -> None:
    same = await asyncio.gather(*(registry.put_policy("c", V1) for _ in range(4)))
    assert {s.stored.version for s in same} == {1}
    assert sum(s.created for s in same) == 1
    bodies = [load_policy(f"description: v{i}\n") for i in range(4)]
    different = await asyncio.gather(*(registry.put_policy("d", b) for b in bodies))
    assert sorted(d.stored.version for d in different) == [1, 2, 3, 4]


async def test_rows_are_immutable_in_the_database(registry: PostgresRegistry, stack: Stack) -> None:
    await registry.put_policy("frozen", V1)
    schema = registry._schema
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        for statement in (
            "UPDATE {}.documents SET source = 'x'",
            "DELETE FROM {}.documents",
            "TRUNCATE {}.documents CASCADE",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute(sql.SQL(statement).format(schema))
            await conn.rollback()


async def test_templates_and_hot_reload(registry: PostgresRegistry) -> None:
    await registry.put_policy("pay", V1)
    put = await registry.put_template(load_template(FLOW))
    assert put.stored.version == 1 and put.stored.template.version == 1
    template = (await registry.get_template("flow")).template
    before = await pin_template(registry, template)
    await registry.put_policy("pay", V2)
    after = await pin_template(registry, template)
    step_before, step_after = before.step("pay"), after.step("pay")
    assert step_before is not None and step_after is not None
    assert plan_request(step_before.policy, {}).materiality is Materiality.MEDIUM
    assert plan_request(step_after.policy, {}).materiality is Materiality.HIGH
    changed = await registry.put_template(load_template(FLOW + "description: two\n"))
    assert changed.stored.version == 2
    assert [t.version for t in await registry.template_versions("flow")] == [1, 2]
    assert (await registry.get_template("flow", 1)).template.description == ""

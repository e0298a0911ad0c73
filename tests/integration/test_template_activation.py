"""A superseded workflow template version cannot be started unless an administrator keeps
it active, audited before it applies (issue 10, item 6): the API on the real stack, and
the PostgreSQL registry itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from psycopg import errors, sql
from psycopg_pool import AsyncConnectionPool
from temporalio.client import Client

from gantral.errors import Conflict
from gantral.policy.loading import load_template
from gantral.policy.registry_postgres import MIGRATIONS, PostgresRegistry
from gantral.workflows.access_log import ACCESS_LOG_ID
from tests.helpers.auth import ADMIN, AGENT, LEAD, bearer
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

YAML = {**ADMIN, "Content-Type": "application/yaml"}
V1 = "id: {wid}\nsteps:\n  - id: pay\n"
V2 = (
    "id: {wid}\nsteps:\n  - id: pay\n    policy:\n      requires_human_approval: true\n"
    "      approvers: [{{role: TECH_LEAD}}]\n"
)


async def start(api: httpx.AsyncClient, wid: str, version: int | None) -> httpx.Response:
    body = {"workflow_id": wid, "owning_team_id": "payments", "workflow_version": version}
    return await api.post("/v1/instances", json=body, headers=AGENT)


async def test_an_agent_cannot_start_the_weaker_superseded_version(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    wid = f"wf-{uuid.uuid4().hex[:8]}"
    for text in (V1, V2):
        resp = await api.put(f"/v1/workflows/{wid}", content=text.format(wid=wid), headers=YAML)
        assert resp.status_code == 201, resp.text
    refused = await start(api, wid, 1)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["reason"] == "version_superseded"
    assert "v2 is the active version" in body["message"]
    assert body["details"]["active_version"] == 2
    latest = await start(api, wid, None)
    assert latest.status_code == 201 and latest.json()["workflow_version"] == 2

    activation = f"/v1/workflows/{wid}/versions/1/activation"
    state = (await api.get(activation, headers=AGENT)).json()
    assert (state["startable"], state["kept_active"], state["latest_version"]) == (False, False, 2)
    keep = {"keep_active": True, "justification": "ledger migration INC-4711"}
    # Publishing permission is needed, and a justification.
    assert (await api.put(activation, json=keep, headers=LEAD)).status_code == 403
    no_reason = await api.put(activation, json={"keep_active": True}, headers=ADMIN)
    assert no_reason.status_code == 422
    # PostgreSQL text cannot hold NUL: refused as input, not a 500 from the registry.
    nul = {"keep_active": True, "justification": "a\x00b"}
    assert (await api.put(activation, json=nul, headers=ADMIN)).status_code == 422
    kept = await api.put(activation, json=keep, headers=ADMIN)
    assert kept.status_code == 200, kept.text
    assert (kept.json()["startable"], kept.json()["set_by"]) == (True, "pat")
    # Audited in the access log before it applied.
    history = await temporal.get_workflow_handle(ACCESS_LOG_ID).fetch_history()
    audited = [e for e in history.events if b"ledger migration INC-4711" in e.SerializeToString()]
    assert audited and b"workflow_version_kept_active" in audited[0].SerializeToString()

    old = await start(api, wid, 1)
    assert old.status_code == 201, old.text
    assert old.json()["workflow_version"] == 1

    undo = {"keep_active": False, "justification": "migration done"}
    assert (await api.put(activation, json=undo, headers=ADMIN)).status_code == 200
    assert (await start(api, wid, 1)).status_code == 409
    assert (await api.put(f"/v1/workflows/{wid}/versions/9/activation", json=keep, headers=ADMIN)
            ).status_code == 404  # fmt: skip


async def test_a_publisher_without_platform_admin_role_is_refused(api: httpx.AsyncClient) -> None:
    wid = f"wf-{uuid.uuid4().hex[:8]}"
    resp = await api.put(f"/v1/workflows/{wid}", content=V1.format(wid=wid), headers=YAML)
    assert resp.status_code == 201, resp.text
    agent_admin = bearer("bot-admin", ["platform-admin"], teams=(), agent=True)
    keep = {"keep_active": True, "justification": "x"}
    refused = await api.put(
        f"/v1/workflows/{wid}/versions/1/activation", json=keep, headers=agent_admin
    )
    assert refused.status_code == 403, refused.text


@pytest_asyncio.fixture(loop_scope="session")
async def registry(stack: Stack) -> AsyncIterator[PostgresRegistry]:
    schema = f"gantral_activation_test_{uuid.uuid4().hex[:8]}"
    pool = AsyncConnectionPool(stack.postgres_uri, min_size=1, max_size=2, open=False)
    await pool.open()
    try:
        reg = PostgresRegistry(pool, schema=schema)
        assert await reg.migrate() == len(MIGRATIONS)
        yield reg
    finally:
        async with pool.connection() as conn:
            await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        await pool.close()


async def test_postgres_registry_keeps_and_releases_versions(registry: PostgresRegistry) -> None:
    await registry.put_template(load_template(V1.format(wid="flow")))
    await registry.put_template(load_template(V2.format(wid="flow")))
    assert (await registry.get_startable_template("flow")).version == 2
    with pytest.raises(Conflict) as refused:
        await registry.get_startable_template("flow", 1)
    assert refused.value.reason == "version_superseded"
    kept = await registry.set_template_activation(
        "flow", 1, keep_active=True, actor="pat", justification="migration"
    )
    assert kept.startable and kept.set_at is not None
    assert (await registry.get_startable_template("flow", 1)).version == 1
    assert await registry.template_activation("flow", 1) == kept
    await registry.set_template_activation(
        "flow", 1, keep_active=False, actor="pat", justification="done"
    )
    with pytest.raises(Conflict):
        await registry.get_startable_template("flow", 1)
    # Choices are appended, never rewritten.
    async with registry._pool.connection() as conn:
        table = sql.SQL("{}.template_activations").format(registry._schema)
        with pytest.raises(errors.InsufficientPrivilege):
            await conn.execute(sql.SQL("UPDATE {} SET keep_active = true").format(table))

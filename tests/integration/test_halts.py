"""The kill switch on the real stack (issue 24): a halt refuses starts, `authorize` calls
and step starts in its scope with 409 `halted`, suspends grants obtained before it,
leaves pending requests pending, is lifted only by those allowed to, is seen by another
API replica (a fresh process reading PostgreSQL) within a second, and every raise and
lift is an audited, verifiable fact in the access log."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from psycopg import errors, sql
from psycopg_pool import AsyncConnectionPool
from temporalio.client import Client
from typer.testing import CliRunner

from gantral.cli import app as cli
from gantral.errors import Conflict, NotFound, Unavailable
from gantral.governance.halt_store import MIGRATIONS, PostgresHaltStore
from gantral.governance.halts import HaltScope
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.access_log import access_log_segment, admin_actions, refusals_on
from tests.helpers.auth import ADMIN, AUDITOR, bearer, token
from tests.helpers.halting import (
    Team,
    assert_halted,
    authorize,
    raise_halt,
    start,
    step_started,
    workflow,
)
from tests.helpers.lifecycle import decide
from tests.helpers.serving import api_client, api_replica, asgi_client, served_api
from tests.helpers.stack import Stack

__all__ = ["served_api"]  # the API on a real port, for the CLI

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ADMIN2 = bearer("pia", ["platform-admin"], teams=())
ALLOW = "requires_human_approval: false\n"
ASK_LEAD = "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"


async def test_a_team_halt_refuses_its_team_and_suspends_its_grants_until_lifted(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    team, other = Team(), Team()
    wid = await workflow(api, ALLOW)
    started = await start(api, wid, team)
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    allowed = await authorize(api, iid, team)
    assert allowed.status_code == 200 and allowed.json()["outcome"] == "ALLOW", allowed.text
    grant = allowed.json()["grant"]  # obtained before the halt, not yet used

    # An operator halts their own team (but not the deployment, nor another team).
    everything = await raise_halt(api, {"deployment": True}, team.operator)
    assert everything.status_code == 403 and everything.json()["reason"] == "scope_not_granted"
    assert (await raise_halt(api, {"team": other.name}, team.operator)).status_code == 403
    assert (await raise_halt(api, {"team": team.name}, team.agent)).status_code == 403
    raised = await raise_halt(api, {"team": team.name}, team.operator)
    assert raised.status_code == 201, raised.text
    halt = raised.json()
    halt_id = halt["halt_id"]
    assert (halt["raised_by"], halt["scope"], halt["lifted_at"]) == (
        f"op-{team.name}",
        {"team": team.name},
        None,
    )

    assert_halted(await start(api, wid, team), halt_id)
    assert_halted(await authorize(api, iid, team), halt_id)
    assert_halted(await step_started(api, iid, grant, team), halt_id)
    # The refused step start is recorded (in the access log, naming the instance).
    recorded = await refusals_on(api, temporal, iid, 1)
    assert recorded[0]["payload"]["reason"] == "halted"
    assert halt_id in recorded[0]["payload"]["message"]
    # Another team runs on.
    other_started = await start(api, wid, other)
    assert other_started.status_code == 201, other_started.text
    other_auth = await authorize(api, other_started.json()["instance_id"], other)
    assert other_auth.json()["outcome"] == "ALLOW", other_auth.text

    listed = await api.get("/v1/halts", headers=AUDITOR)
    assert listed.status_code == 200
    assert [h for h in listed.json() if h["halt_id"] == halt_id] == [halt]
    assert (await api.get("/v1/halts", headers=team.agent)).status_code == 403
    assert (await api.get(f"/v1/halts/{halt_id}", headers=team.operator)).json() == halt

    # Raising is the operator's; lifting is not.
    lift = f"/v1/halts/{halt_id}:lift"
    refused = await api.post(lift, json={"reason": "mine"}, headers=team.operator)
    assert refused.status_code == 403, refused.text
    assert (await api.post(lift, json={}, headers=ADMIN)).status_code == 422
    lifted = await api.post(lift, json={"reason": "agent fixed"}, headers=ADMIN)
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["lifted_by"], lifted.json()["lift_reason"]) == ("pat", "agent fixed")
    again = await api.post(lift, json={"reason": "twice"}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["reason"] == "already_lifted"
    unknown = await api.post("/v1/halts/halt_nope:lift", json={"reason": "x"}, headers=ADMIN)
    assert unknown.status_code == 404

    # The suspended grant works again.
    used = await step_started(api, iid, grant, team)
    assert used.status_code == 200, used.text
    assert (await start(api, wid, team)).status_code == 201
    assert all(h["halt_id"] != halt_id for h in (await api.get("/v1/halts", headers=ADMIN)).json())
    every = (await api.get("/v1/halts?include_lifted=true", headers=ADMIN)).json()
    assert [h["lifted_by"] for h in every if h["halt_id"] == halt_id] == ["pat"]

    # Both acts are in the access log, and its chain verifies.
    acts = await admin_actions(api, temporal, 2, "halt_id", halt_id)
    segment = await access_log_segment(temporal)
    assert [(e["payload"]["action"], e["actor"]["id"]) for e in acts] == [
        ("halt_raised", f"op-{team.name}"),
        ("halt_lifted", "pat"),
    ]
    assert acts[0]["payload"]["detail"]["scope"] == {"team": team.name}
    verified = await api.get(f"/v1/audit/instances/{segment}/verify", headers=AUDITOR)
    assert verified.status_code == 200 and verified.json()["ok"], verified.text


async def test_pending_requests_stay_pending_and_their_grants_wait_for_the_lift(
    api: httpx.AsyncClient,
) -> None:
    team = Team()
    wid = await workflow(api, ASK_LEAD)
    iid = (await start(api, wid, team)).json()["instance_id"]
    pending = (await authorize(api, iid, team)).json()
    assert pending["outcome"] == "PENDING"
    rid = pending["request"]["request_id"]
    body = {"scope": {"agent": f"bot-{team.name}"}, "reason": "INC-42", "lift_by_another": True}
    halt_id = (await api.post("/v1/halts", json=body, headers=ADMIN)).json()["halt_id"]
    try:
        view = (await api.get(f"/v1/instances/{iid}", headers=team.lead)).json()
        assert view["state"] == "WAITING_FOR_HUMAN"
        assert view["pending_request"]["request_id"] == rid
        # The human may still decide; the grant it yields is suspended while the halt holds.
        assert (await decide(api, iid, rid, "APPROVE", team.lead)).status_code == 200
        grant: dict[str, Any] | None = None
        for _ in range(100):
            request = await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=team.lead)
            grant = request.json().get("grant")
            if grant:
                break
            await asyncio.sleep(0.05)
        assert grant is not None
        assert_halted(await step_started(api, iid, grant, team), halt_id)
        # Raised for someone else to lift: its raiser cannot.
        own = await api.post(f"/v1/halts/{halt_id}:lift", json={"reason": "x"}, headers=ADMIN)
        assert own.status_code == 403 and own.json()["reason"] == "lifter_is_raiser"
    finally:
        lift = f"/v1/halts/{halt_id}:lift"
        lifted = await api.post(lift, json={"reason": "done"}, headers=ADMIN2)
        assert lifted.status_code == 200, lifted.text
    assert (await step_started(api, iid, grant, team)).status_code == 200


async def test_another_replica_sees_a_halt_within_a_second_and_after_a_restart(
    api: httpx.AsyncClient, settings: Settings, temporal: Client, audit_config: AuditSettings
) -> None:
    team = Team()
    wid = await workflow(api, ALLOW)
    async with api_client(settings, temporal, audit_config, base_url="http://replica") as other:
        assert (await start(other, wid, team)).status_code == 201  # its cache holds no halt
        raised_at = time.monotonic()
        version = {"workflow": wid, "version": 1}
        halt_id = (await raise_halt(api, version, ADMIN, "bad release")).json()["halt_id"]
        while (resp := await start(other, wid, team)).status_code == 201:
            assert time.monotonic() - raised_at < 1.0, "the replica did not see the halt in 1 s"
            await asyncio.sleep(0.05)
        assert_halted(resp, halt_id, "bad release")
    # A process started after the halt (an API restart) holds it from its first call.
    async with api_client(settings, temporal, audit_config, base_url="http://restarted") as fresh:
        assert_halted(await start(fresh, wid, team), halt_id, "bad release")
        listed = (await fresh.get("/v1/halts", headers=ADMIN)).json()
        assert [h["scope"] for h in listed if h["halt_id"] == halt_id] == [version]
        lifted = await fresh.post(
            f"/v1/halts/{halt_id}:lift", json={"reason": "rolled back"}, headers=ADMIN
        )
        assert lifted.status_code == 200, lifted.text
    await asyncio.sleep(0.6)  # the first replica's cache age
    assert (await start(api, wid, team)).status_code == 201


async def test_fifty_calling_agents_are_stopped_within_a_second_on_another_replica(
    api: httpx.AsyncClient, settings: Settings, temporal: Client, audit_config: AuditSettings
) -> None:
    """Issue 24's measure: raise a halt on one replica while 50 agents call `authorize`
    on another; the last call allowed starts less than a second after the raise."""
    team = Team()
    wid = await workflow(api, ALLOW)
    agents = [bearer(f"bot-{n}-{team.name}", teams=[team.name], agent=True) for n in range(50)]
    gate = asyncio.Semaphore(10)

    async def start_one(agent: dict[str, str]) -> str:
        async with gate:
            body = {"workflow_id": wid, "owning_team_id": team.name}
            resp = await api.post("/v1/instances", json=body, headers=agent)
            assert resp.status_code == 201, resp.text
            return str(resp.json()["instance_id"])

    instances = await asyncio.gather(*(start_one(agent) for agent in agents))
    allowed: list[float] = []
    refused: list[float] = []
    halted_ids: set[str] = set()
    stop = asyncio.Event()

    async def call(client: httpx.AsyncClient, iid: str, agent: dict[str, str]) -> None:
        body = {"action": "pay", "arguments": {"amount": 5}}
        while not stop.is_set():
            sent = time.monotonic()
            resp = await client.post(
                f"/v1/instances/{iid}/steps/act/authorize", json=body, headers=agent
            )
            if resp.status_code == 200:
                allowed.append(sent)
            else:
                assert resp.json()["reason"] == "halted", resp.text
                refused.append(sent)
                halted_ids.add(resp.json()["details"]["halt_id"])
                return
            await asyncio.sleep(0.1)

    async with (
        api_replica(settings, temporal, audit_config) as replica,
        asgi_client(replica, "http://replica", timeout=60) as other,
    ):
        pairs = zip(instances, agents, strict=True)
        callers = [asyncio.create_task(call(other, i, a)) for i, a in pairs]
        # Calling steadily (two rounds done) before the halt.
        for _ in range(600):
            if len(allowed) >= 2 * len(agents):
                break
            await asyncio.sleep(0.05)
        asked = time.monotonic()
        resp = await raise_halt(api, {"team": team.name}, ADMIN, "fleet stop drill")
        raised = time.monotonic()
        halt_id = resp.json()["halt_id"]
        try:
            await asyncio.wait_for(asyncio.gather(*callers), timeout=30)
        finally:
            stop.set()
            await api.post(f"/v1/halts/{halt_id}:lift", json={"reason": "drill"}, headers=ADMIN)
    assert halted_ids == {halt_id}
    assert allowed and min(allowed) < raised
    lag = max(allowed) - raised
    print(
        f"\n50 agents, {len(allowed)} calls allowed; raising took {raised - asked:.3f} s "
        f"(recorded in the audit log first); the last allowed call started {lag:+.3f} s "
        f"after the raise was answered; refusals from {min(refused) - raised:+.3f} s"
    )
    assert lag < 1.0, lag


async def test_the_cli_raises_lists_and_lifts(served_api: str) -> None:
    team = Team()

    async def run(who: str, *args: str) -> tuple[int, str]:
        env = {"GANTRAL_API_URL": served_api, "GANTRAL_TOKEN": who}
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["halt", *args], env=env)
        return result.exit_code, result.output

    admin = token("pat", ["platform-admin"], teams=())
    raising = ("raise", "--team", team.name, "--reason", "cli drill", "--output", "json")
    code, out = await run(admin, *raising)
    assert code == 0, out
    halt_id = json.loads(out)["halt_id"]
    code, out = await run(admin, "list")
    assert code == 0 and halt_id in out and f"team={team.name}" in out and "raised by pat" in out
    operator = token(f"op-{team.name}", ["operator"], teams=[team.name])
    code, out = await run(operator, "lift", halt_id, "--reason", "not mine")
    assert code == 1 and "403 permission_not_granted" in out, out
    code, out = await run(admin, "raise", "--team", "a", "--agent", "b", "--reason", "two")
    assert code == 1 and "422" in out, out
    code, out = await run(admin, "lift", halt_id, "--reason", "drill over")
    assert code == 0 and "lifted by pat" in out, out
    code, out = await run(admin, "list", "--all", "--output", "json")
    assert [h["lift_reason"] for h in json.loads(out) if h["halt_id"] == halt_id] == ["drill over"]


@pytest_asyncio.fixture(loop_scope="session")
async def store(stack: Stack) -> AsyncIterator[PostgresHaltStore]:
    schema = f"gantral_halts_test_{uuid.uuid4().hex[:8]}"
    pool = AsyncConnectionPool(stack.postgres_uri, min_size=1, max_size=2, open=False)
    await pool.open()
    try:
        halts = PostgresHaltStore(pool, schema=schema)
        assert await halts.migrate() == len(MIGRATIONS)
        assert await halts.migrate() == 0
        yield halts
    finally:
        async with pool.connection() as conn:
            await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        await pool.close()


async def test_the_postgres_store_appends_and_never_rewrites(store: PostgresHaltStore) -> None:
    first = await store.add("halt_a", HaltScope(workflow="deploy", version=2), "bad", "pat")
    second = await store.add("halt_b", HaltScope(deployment=True), "leak", "pat")
    assert (first.scope, first.raised_by, first.active) == (
        HaltScope(workflow="deploy", version=2),
        "pat",
        True,
    )
    assert [h.halt_id for h in await store.read(active_only=True)] == ["halt_a", "halt_b"]
    lifted = await store.lift("halt_b", "sam", "rotated")
    assert (lifted.lifted_by, lifted.lift_reason, lifted.active) == ("sam", "rotated", False)
    assert [h.halt_id for h in await store.read(active_only=True)] == ["halt_a"]
    assert await store.read() == [first, lifted]
    assert second.raised_at == lifted.raised_at
    with pytest.raises(Conflict):
        await store.lift("halt_b", "sam", "again")
    with pytest.raises(NotFound):
        await store.lift("halt_zz", "sam", "x")
    with pytest.raises(NotFound):
        await store.get("halt_zz")
    for table in ("halts", "halt_lifts"):
        name = sql.SQL("{}.{}").format(store._schema, sql.Identifier(table))
        async with store._pool.connection() as conn:
            with pytest.raises(errors.InsufficientPrivilege):
                await conn.execute(sql.SQL("DELETE FROM {}").format(name))


async def test_a_closed_database_is_unavailable_not_a_crash(stack: Stack) -> None:
    pool = AsyncConnectionPool(stack.postgres_uri, min_size=1, max_size=1, open=False, timeout=1)
    await pool.open()
    halts = PostgresHaltStore(pool, schema="gantral_halts_missing")
    await pool.close()
    with pytest.raises(Unavailable) as down:
        await halts.read()
    assert down.value.reason == "halts_unavailable"

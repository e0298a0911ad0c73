"""Readiness through the real API and stack, as wired into the core: authorize answers
NOT_READY (200, Retry-After) when a rule blocks, a spent budget pauses only the next
step, five SDK agents under a limit of two never run three, the route explains, metrics
count, counters rebuilt from the real audit log agree (by hand, and by itself when the
API starts with them lost), and nothing about readiness
reaches the audit log or the Temporal history."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gantral_sdk as sdk
import httpx
import psycopg
import psycopg.sql
import pytest_asyncio
from fastapi import FastAPI
from temporalio.client import Client

from gantral.api.app import create_app
from gantral.readiness.gate import ReadinessGate
from gantral.readiness.rebuild import rebuild_from_audit, rebuild_if_lost
from gantral.readiness.verdict import Ask
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.auth import AUDITOR, bearer, token
from tests.helpers.serving import api_replica, asgi_client

RULES = """
teams:
  {team}:
    concurrency: {concurrency}
    budget: {{period: day, tokens: {tokens}, money: 3}}
timing: {{retry_after_seconds: 0.1}}
"""


@dataclass
class Served:
    app: FastAPI
    api: httpx.AsyncClient
    team: str
    rules: Path
    agent: dict[str, str]

    @property
    def gate(self) -> ReadinessGate:
        gate: ReadinessGate = self.app.state.readiness
        return gate

    async def set_rules(self, concurrency: int = 1, tokens: int = 1000) -> None:
        self.rules.write_text(RULES.format(team=self.team, concurrency=concurrency, tokens=tokens))
        assert self.gate.watcher is not None
        await self.gate.watcher.scan_once()

    async def start(self) -> str:
        body = {"workflow_id": "deploy", "owning_team_id": self.team}
        resp = await self.api.post("/v1/instances", json=body, headers=self.agent)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["instance_id"])

    async def authorize(self, iid: str, step: str = "plan") -> httpx.Response:
        resp = await self.api.post(
            f"/v1/instances/{iid}/steps/{step}/authorize", json={}, headers=self.agent
        )
        assert resp.status_code == 200, resp.text
        return resp

    async def event(self, iid: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self.api.post(f"/v1/instances/{iid}/events", json=body, headers=self.agent)
        assert resp.status_code == 200 and resp.json()["accepted"], resp.text
        return dict(resp.json())

    async def run_plan(self, iid: str, tokens: int) -> None:
        """Authorize and start `plan`, and report cost while it runs (not completed)."""
        auth = (await self.authorize(iid)).json()
        assert auth["outcome"] == "ALLOW", auth
        grant = auth["grant"]
        await self.event(iid, {"kind": "STEP_STARTED", "step_id": "plan",
                               "grant_id": grant["grant_id"],
                               "args_digest": grant["args_digest"]})  # fmt: skip
        await self.event(iid, {"kind": "COST", "cost": {"tokens": tokens, "money": 1.25}})


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings, tmp_path: Path
) -> AsyncIterator[Served]:
    team = f"team-{uuid.uuid4().hex[:8]}"
    rules = tmp_path / "capacity.yaml"
    rules.write_text(RULES.format(team=team, concurrency=1, tokens=1000))
    conf = settings.readiness.model_copy(
        update={"rules_file": rules, "schema_name": f"readiness_{uuid.uuid4().hex[:10]}"}
    )
    async with (
        api_replica(settings, temporal, audit_config, readiness=conf) as app,
        asgi_client(app) as client,
    ):
        agent = bearer(f"bot-{team}", teams=[team], agent=True)
        yield Served(app, client, team, rules, agent)


async def _audit_events(api: httpx.AsyncClient, iid: str, needed: str) -> list[dict[str, Any]]:
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200:
            events: list[dict[str, Any]] = resp.json()["events"]
            if any(e["type"] == needed for e in events):
                return events
        await asyncio.sleep(0.2)
    raise AssertionError(f"{needed} never reached the audit log of {iid}")


async def test_spent_budget_answers_not_ready_until_raised(
    served: Served, temporal: Client
) -> None:
    s = served
    first, second = await s.start(), await s.start()
    await s.run_plan(first, tokens=1500)  # spends past the budget while it runs

    resp = await s.authorize(second)
    body = resp.json()
    assert (body["outcome"], body["reason"], body["materiality"]) == ("NOT_READY", "budget", None)
    assert body["retry_after"] > 0 and int(resp.headers["Retry-After"]) >= 1
    assert body["grant"] is None and body["request"] is None

    view = (await s.api.get(f"/v1/readiness/{second}", headers=s.agent)).json()
    assert view["runnable"] is False and view["state"] == "RUNNING"
    assert view["blocked_by"] == ["budget"]
    checks = {(c["kind"], c["scope"]): c for c in view["capacity"]["checks"]}
    assert checks[("tokens", f"team:{s.team}")] | {"retry_after": 0} == {
        "scope": f"team:{s.team}", "kind": "tokens", "limit": 1000.0, "used": 1500.0,
        "ok": False, "retry_after": 0,
    }  # fmt: skip
    # The running plan step holds the team's only slot.
    assert checks[("concurrency", f"team:{s.team}")]["used"] == 1

    # The step in flight is never killed: it completes, and frees its slot.
    await s.event(first, {"kind": "STEP_COMPLETED", "step_id": "plan"})
    assert (await s.authorize(second)).json()["reason"] == "budget"
    # Raised budget: the next authorize is allowed (rules version 2).
    await s.set_rules(tokens=5000)
    allowed = (await s.authorize(second)).json()
    assert allowed["outcome"] == "ALLOW" and allowed["grant"] is not None
    after = (await s.api.get(f"/v1/readiness/{second}", headers=s.agent)).json()
    assert after["capacity"]["rules_version"] == 2

    # Read-only and team-scoped: an outsider learns nothing (404, as for unknown ids).
    outsider = bearer("bot-other", teams=["risk"], agent=True)
    assert (await s.api.get(f"/v1/readiness/{second}", headers=outsider)).status_code == 404
    assert (await s.api.get("/v1/readiness/inst_nope", headers=s.agent)).status_code == 404
    bad = await s.api.get(f"/v1/readiness/{second}?agent=a%20b", headers=s.agent)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_input"

    metrics = (await s.api.get("/metrics")).text
    assert f'gantral_readiness_budget_used{{team="{s.team}",unit="tokens"}} 1500.0' in metrics
    assert f'gantral_readiness_budget_limit{{team="{s.team}",unit="tokens"}} 5000.0' in metrics
    assert 'gantral_readiness_blocked_steps_total{reason="budget"}' in metrics

    # Readiness is never recorded: the two NOT_READY answers left no trace in the audit
    # log (one policy evaluation: the allowed call's) nor in the workflow's history.
    events = await _audit_events(s.api, second, "GRANT_ISSUED")
    assert [e["type"] for e in events].count("POLICY_EVALUATED") == 1
    for iid in (first, second):
        dumped = json.dumps(await _audit_events(s.api, iid, "INSTANCE_STARTED"))
        history = await temporal.get_workflow_handle(iid).fetch_history()
        for text in (dumped, json.dumps(history.to_json_dict())):
            for word in ("readiness", "NOT_READY", "retry_after", "rules_version"):
                assert word not in text, (iid, word)


async def test_five_sdk_agents_under_a_limit_of_two(served: Served) -> None:
    s = served
    await s.set_rules(concurrency=2, tokens=10**9)
    running, peak = 0, 0
    auth = sdk.BearerToken(token(f"bot-{s.team}", teams=[s.team], agent=True))
    client = sdk.AsyncGantralClient(http=s.api, auth=auth)

    async def agent(iid: str) -> None:
        nonlocal running, peak
        # The SDK waits on NOT_READY by itself; the body runs only once admitted.
        async with client.governed_step(iid, "plan", wait=60):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.3)
            running -= 1

    iids = [await s.start() for _ in range(5)]
    await asyncio.gather(*(agent(iid) for iid in iids))
    assert peak == 2
    metrics = (await s.api.get("/metrics")).text
    assert 'gantral_readiness_blocked_steps_total{reason="concurrency"}' in metrics
    # Every step ended: the team's slots are all free again.
    view = (await s.api.get(f"/v1/readiness/{iids[0]}", headers=s.agent)).json()
    used = {c["kind"]: c["used"] for c in view["capacity"]["checks"]}
    assert used["concurrency"] == 0 and view["runnable"] is True


async def test_counters_rebuilt_from_the_audit_log_agree(served: Served) -> None:
    s = served
    iid = await s.start()
    await s.run_plan(iid, tokens=1500)
    await _audit_events(s.api, iid, "COST_REPORTED")
    agent_id = f"bot-{s.team}"
    asks = [Ask(iid, "plan", s.team, "deploy", agent_id),
            Ask(iid, "deploy", s.team, "deploy", agent_id),
            Ask("inst_other", "x", s.team, "deploy", "bot-2")]  # fmt: skip
    before = [(await s.gate.explain(a)).to_dict() for a in asks]
    assert [v["reason"] for v in before] == ["ready", "budget", "budget"]

    assert s.gate.store is not None
    await s.gate.store.clear()  # lost
    assert [(await s.gate.explain(a)).ready for a in asks] == [True, True, True]

    reader = s.app.state.audit_reader
    assert await rebuild_from_audit(s.gate, reader.queries.db, datetime.now(UTC)) >= 1
    after = [(await s.gate.explain(a)).to_dict() for a in asks]
    assert after == before


async def test_lost_counters_are_recomputed_when_the_api_starts(
    served: Served, temporal: Client, audit_config: AuditSettings
) -> None:
    s = served
    iid = await s.start()
    await s.run_plan(iid, tokens=1500)  # a running step and a spent budget
    await _audit_events(s.api, iid, "COST_REPORTED")
    agent_id = f"bot-{s.team}"
    asks = [Ask(iid, "deploy", s.team, "deploy", agent_id),
            Ask("inst_other", "x", s.team, "deploy", "bot-2")]  # fmt: skip
    before = [(await s.gate.explain(a)).to_dict() for a in asks]
    assert [v["reason"] for v in before] == ["budget", "budget"]
    # Counters that hold anything are left alone at startup.
    reader = s.app.state.audit_reader
    assert await rebuild_if_lost(s.gate, reader.queries.db, datetime.now(UTC)) is None

    # Lost: the counters' schema is dropped, as if their database were recreated.
    settings: Settings = s.app.state.settings
    conf = settings.readiness
    dsn = conf.database_url.get_secret_value() or settings.database.registry_url.get_secret_value()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(
                psycopg.sql.Identifier(conf.schema_name)
            )
        )

    # A new API process starts on the same settings: no operator step, same verdicts.
    restarted = create_app(settings, temporal, audit_config=audit_config)
    async with restarted.router.lifespan_context(restarted):
        gate: ReadinessGate = restarted.state.readiness
        assert gate.store is not None and not await gate.store.empty()
        after = [(await gate.explain(a)).to_dict() for a in asks]
    assert after == before

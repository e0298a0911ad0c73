"""Readiness through the real API and stack: the explanation route, its metrics, counters
rebuilt from the real audit log, and nothing about readiness in the audit log or history.

The core client does not consult the gate yet (that wiring is the lead's, issue 17
requests): here the test plays that part, calling the gate where the client will.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from gantral.audit.config import AuditConfig
from gantral.domain.records import Cost
from gantral.readiness.gate import ReadinessGate
from gantral.readiness.rebuild import rebuild_from_audit
from gantral.readiness.verdict import Ask
from gantral.settings import Settings
from tests.integration.auth import AUDITOR, bearer

RULES = """
teams:
  {team}:
    concurrency: 1
    budget: {{period: day, tokens: 1000, money: 3}}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditConfig, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    team = f"team-{uuid.uuid4().hex[:8]}"
    rules = tmp_path / "capacity.yaml"
    rules.write_text(RULES.format(team=team))
    conf = settings.readiness.model_copy(
        update={"rules_file": rules, "schema_name": f"readiness_{uuid.uuid4().hex[:10]}"}
    )
    app = create_app(settings.model_copy(update={"readiness": conf}), temporal,
                     audit_config=audit_config)  # fmt: skip
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gantral") as client:
            yield app, client, team


async def _run_plan_step(
    api: httpx.AsyncClient, gate: ReadinessGate, team: str, agent: dict[str, str]
) -> tuple[str, Ask]:
    """Start an instance, authorize and start its `plan` step, report cost: each call
    followed by the gate call the core client will make."""
    body = {"workflow_id": "deploy", "owning_team_id": team}
    resp = await api.post("/v1/instances", json=body, headers=agent)
    assert resp.status_code == 201, resp.text
    iid = resp.json()["instance_id"]
    ask = Ask(iid, "plan", team, "deploy", resp.json()["started_by"]["id"])
    assert (await gate.check(ask)).ready
    auth = await api.post(f"/v1/instances/{iid}/steps/plan/authorize", json={}, headers=agent)
    assert auth.status_code == 200 and auth.json()["outcome"] == "ALLOW", auth.text
    grant = auth.json()["grant"]
    event = {"kind": "STEP_STARTED", "step_id": "plan", "grant_id": grant["grant_id"],
             "args_digest": grant["args_digest"]}  # fmt: skip
    started = await api.post(f"/v1/instances/{iid}/events", json=event, headers=agent)
    assert started.status_code == 200 and started.json()["accepted"], started.text
    await gate.step_started(ask)
    cost = {"kind": "COST", "cost": {"tokens": 1500, "money": 1.25}}
    reported = await api.post(f"/v1/instances/{iid}/events", json=cost, headers=agent)
    assert reported.status_code == 200, reported.text
    await gate.cost_reported(iid, team, Cost.model_validate(reported.json()["cost"]))
    return iid, ask


async def _audit_events(api: httpx.AsyncClient, iid: str, needed: str) -> list[dict[str, Any]]:
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200:
            events: list[dict[str, Any]] = resp.json()["events"]
            if any(e["type"] == needed for e in events):
                return events
        await asyncio.sleep(0.2)
    raise AssertionError(f"{needed} never reached the audit log of {iid}")


async def test_readiness_route_explains_and_counts(
    served: tuple[FastAPI, httpx.AsyncClient, str], temporal: Client
) -> None:
    app, api, team = served
    gate: ReadinessGate = app.state.readiness
    agent = bearer(f"bot-{team}", teams=[team], agent=True)
    iid, ask = await _run_plan_step(api, gate, team, agent)

    resp = await api.get(f"/v1/readiness/{iid}", headers=agent)
    assert resp.status_code == 200, resp.text
    view = resp.json()
    assert view["runnable"] is False and view["state"] == "RUNNING"
    assert view["blocked_by"] == ["budget"]
    capacity = view["capacity"]
    assert (capacity["ready"], capacity["reason"], capacity["scope"]) == (
        False, "budget", f"team:{team}",
    )  # fmt: skip
    assert capacity["rules_version"] == 1 and capacity["retry_after"] > 0
    checks = {(c["kind"], c["scope"]): c for c in capacity["checks"]}
    assert checks[("tokens", f"team:{team}")]["used"] == 1500
    assert checks[("money", f"team:{team}")] | {"retry_after": 0} == {
        "scope": f"team:{team}", "kind": "money", "limit": 3.0, "used": 1.25, "ok": True,
        "retry_after": 0,
    }  # fmt: skip
    # The running plan step holds the team's only slot.
    assert checks[("concurrency", f"team:{team}")]["used"] == 1
    # The step in flight asking again is still admitted; a new step is not.
    assert (await gate.check(ask)).ready
    blocked = await gate.check(Ask(iid, "deploy", team, "deploy", ask.agent_id))
    assert (blocked.ready, blocked.reason) == (False, "budget")

    # Read-only and team-scoped: an outsider learns nothing (404, as for unknown ids).
    outsider = bearer("bot-other", teams=["risk"], agent=True)
    assert (await api.get(f"/v1/readiness/{iid}", headers=outsider)).status_code == 404
    assert (await api.get("/v1/readiness/inst_nope", headers=agent)).status_code == 404
    bad = await api.get(f"/v1/readiness/{iid}?agent=a%20b", headers=agent)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_input"

    metrics = (await api.get("/metrics")).text
    assert f'gantral_readiness_budget_used{{team="{team}",unit="tokens"}} 1500.0' in metrics
    assert f'gantral_readiness_budget_limit{{team="{team}",unit="USD"}} 3.0' in metrics
    assert 'gantral_readiness_blocked_steps_total{reason="budget"}' in metrics

    # Readiness is never recorded: not in the audit log, not in the workflow's history.
    events = await _audit_events(api, iid, "COST_REPORTED")
    dumped = json.dumps(events)
    for word in ("readiness", "NOT_READY", "budget", "rules_version"):
        assert word not in dumped
    history = await temporal.get_workflow_handle(iid).fetch_history()
    text = json.dumps(history.to_json_dict())
    assert "readiness" not in text and "NOT_READY" not in text and "rules_version" not in text


async def test_counters_rebuilt_from_the_audit_log_agree(
    served: tuple[FastAPI, httpx.AsyncClient, str],
) -> None:
    app, api, team = served
    gate: ReadinessGate = app.state.readiness
    agent = bearer(f"bot-{team}", teams=[team], agent=True)
    iid, ask = await _run_plan_step(api, gate, team, agent)
    await _audit_events(api, iid, "COST_REPORTED")
    asks = [ask, Ask(iid, "deploy", team, "deploy", ask.agent_id),
            Ask("inst_other", "x", team, "deploy", "bot-2")]  # fmt: skip
    before = [(await gate.explain(a)).to_dict() for a in asks]
    assert [v["reason"] for v in before] == ["ready", "budget", "budget"]

    assert gate.store is not None
    await gate.store.clear()
    assert [(await gate.explain(a)).ready for a in asks] == [True, True, True]

    read = await rebuild_from_audit(gate, app.state.audit_reader.queries.db, datetime.now(UTC))
    assert read >= 1
    after = [(await gate.explain(a)).to_dict() for a in asks]
    assert after == before

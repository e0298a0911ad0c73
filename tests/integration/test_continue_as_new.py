"""Long-lived instances continue as new: the state passes to the next run as one value,
and the audit chain runs on across runs as if nothing happened."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.records import Cost, DecisionType
from gantral.domain.states import State
from gantral.settings import Settings
from gantral.workers.worker import build_worker
from gantral.workflows.messages import (
    AgentEvent,
    AgentEventKind,
    AuthorizeStep,
    Decide,
    Finish,
    FinishKind,
)
from tests.helpers.auth import AUDITOR
from tests.helpers.own_queue import deploy_core, start_deploy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

AGENT = Actor(id="agent-1", kind=ActorKind.AGENT)
ALICE = Actor(id="alice", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])


async def _runs(temporal: Client, iid: str, at_least: int = 2) -> int:
    """How many runs the instance's workflow has had (each continue-as-new adds one);
    visibility lags, so wait a while for `at_least` to show."""
    query = f"WorkflowId = '{iid}'"
    for _ in range(50):
        count = len([wf async for wf in temporal.list_workflows(query)])
        if count >= at_least:
            return count
        await asyncio.sleep(0.2)
    return count


async def test_an_instance_decided_across_several_runs_keeps_one_verified_chain(
    api: httpx.AsyncClient, temporal: Client, settings: Settings, workers: None
) -> None:
    own, core = await deploy_core(temporal, settings, "can", continue_as_new_after_events=10)
    async with build_worker(temporal, own):
        iid = await start_deploy(core, AGENT)
        for i in range(4):  # each report grows the history; runs continue as new
            cost = AgentEvent(
                kind=AgentEventKind.COST, cost=Cost(tokens=10), actor=AGENT,
                idempotency_key=f"cost-{i}",
            )  # fmt: skip
            await core.report(iid, cost)
        pending = await core.authorize(iid, AuthorizeStep(step_id="deploy", actor=AGENT))
        assert pending.request is not None
        rid = pending.request.request_id
        # A retried report (same key, same body) across runs still gets its first outcome.
        again = AgentEvent(
            kind=AgentEventKind.COST, cost=Cost(tokens=10), actor=AGENT, idempotency_key="cost-0"
        )
        # The first outcome (cost then 10), and nothing counted twice.
        assert (await core.report(iid, again)).cost.tokens == 10
        assert (await core.get_instance(iid)).cost.tokens == 40
        decided = await core.decide(
            iid,
            Decide(
                request_id=rid, decision_type=DecisionType.APPROVE, actor=ALICE,
                idempotency_key="approve-1", seen_args_digest=pending.request.args_digest,
            ),
        )  # fmt: skip
        assert decided.state is State.RUNNING
        request = await core.get_request(iid, rid, wait=20)
        assert request.grant is not None
        started = AgentEvent(
            kind=AgentEventKind.STEP_STARTED, step_id="deploy", actor=AGENT,
            grant_id=request.grant.grant_id, args_digest=request.grant.args_digest,
        )  # fmt: skip
        await core.report(iid, started)
        done = await core.finish(iid, Finish(kind=FinishKind.COMPLETE, actor=AGENT))
        assert done.state is State.COMPLETED
        await temporal.get_workflow_handle(iid).result()
    assert await _runs(temporal, iid, at_least=3) >= 3
    events = await _sealed(api, iid)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    assert types.count("DECISION_RECORDED") == 1 and types.count("COST_REPORTED") == 4
    assert types[0] == "INSTANCE_STARTED" and types[-1] == "INSTANCE_SEALED"
    verdict = (await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)).json()
    assert verdict["ok"] is True, verdict["problems"]


async def _sealed(api: httpx.AsyncClient, iid: str) -> list[dict[str, Any]]:
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200 and resp.json()["sealed"]:
            return list(resp.json()["events"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"{iid} not sealed in time")

"""The replay corpus's scenarios: each drives a real instance through the API (or the core)
to its end and returns its id. tests/integration/test_replay_record.py records them; the
replay and archive tests reuse them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from temporalio.client import Client

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.records import Cost, DecisionType
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
from tests.helpers import governance as gov
from tests.helpers.auth import ADMIN, AGENT, AUDITOR, LEAD, SECURITY, bearer
from tests.helpers.lifecycle import authorize, decide, start
from tests.helpers.own_queue import deploy_core, start_deploy

Scenario = Callable[[httpx.AsyncClient], Awaitable[str]]

AGENT_ACTOR = Actor(id="agent-1", kind=ActorKind.AGENT)
AGENT_ID = "agent-7"  # who `AGENT` (the API scenarios' agent) is


async def _ok(resp: Awaitable[httpx.Response]) -> dict[str, Any]:
    done = await resp
    assert done.status_code == 200, done.text
    return dict(done.json())


async def approve(api: httpx.AsyncClient) -> str:
    """Plan allowed, deploy approved, the grant used, completion and cost reported."""
    iid = str((await start(api))["instance_id"])
    await authorize(api, iid, step="plan", args={})
    pending = await authorize(api, iid)
    rid = pending["request"]["request_id"]
    await _ok(decide(api, iid, rid, "APPROVE", LEAD))
    grant = (await gov.outcome(api, iid, rid))["grant"]
    for body in (
        {"kind": "STEP_STARTED", "step_id": "deploy", "grant_id": grant["grant_id"],
         "args_digest": pending["args_digest"]},
        {"kind": "STEP_COMPLETED", "step_id": "deploy"},
        {"kind": "COST", "cost": {"tokens": 1200, "money": 0.42, "wall_time_seconds": 3.5}},
    ):  # fmt: skip
        await _ok(api.post(f"/v1/instances/{iid}/events", json=body, headers=AGENT))
    await _ok(api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT))
    return iid


async def reject(api: httpx.AsyncClient) -> str:
    iid = str((await start(api))["instance_id"])
    rid = (await authorize(api, iid))["request"]["request_id"]
    await _ok(decide(api, iid, rid, "REJECT", LEAD, justification="not during the freeze"))
    return iid


async def override_recheck(api: httpx.AsyncClient) -> str:
    """An override that raises materiality goes to the higher approvers first."""
    pid = gov.uid("pol")
    await gov.put(api, f"/v1/policies/{pid}", gov_policy())
    iid = await gov.start(api, await gov.workflow_with(api, pid))
    rid = (await gov.authorize(api, iid, {"amount": 500}))["request"]["request_id"]
    edit = {"justification": "pay the full invoice", "context_delta": {"amount": 50000}}
    await _ok(decide(api, iid, rid, "OVERRIDE", gov.LEAD_SUPERVISOR, **edit))
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    follow_up = view["pending_request"]["request_id"]
    await _ok(decide(api, iid, follow_up, "APPROVE", gov.CFO))
    await gov.outcome(api, iid, follow_up)
    await _ok(api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT))
    return iid


def gov_policy() -> str:
    return """
materiality: MEDIUM
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
override_roles: [TECH_LEAD]
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 10000}]}
by_materiality:
  HIGH: {approvers: [{role: CFO}]}
"""


async def quorum(api: httpx.AsyncClient) -> str:
    iid = str((await start(api, workflow="quorum"))["instance_id"])
    pending = await authorize(api, iid, step="transfer", args={"amount": 5000})
    rid = pending["request"]["request_id"]
    await _ok(decide(api, iid, rid, "APPROVE", LEAD))
    await _ok(decide(api, iid, rid, "APPROVE", SECURITY))
    await gov.outcome(api, iid, rid)
    await _ok(api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT))
    return iid


async def escalation_expiry(api: httpx.AsyncClient) -> str:
    iid = str((await start(api, workflow="fast-timeout"))["instance_id"])
    rid = (await authorize(api, iid, step="release"))["request"]["request_id"]
    assert (await gov.outcome(api, iid, rid, wait=15))["status"] == "EXPIRED"
    return iid


async def _frozen_past_its_deadline(api: httpx.AsyncClient) -> tuple[str, str, str]:
    """A request with a 3 s deadline, frozen by a halt on its workflow, held past that
    deadline: (instance, request, halt)."""
    pid = gov.uid("pol")
    policy = (
        "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
        "tiers:\n  - {name: leads, timeout: 3s}\non_timeout: EXPIRE\n"
    )
    await gov.put(api, f"/v1/policies/{pid}", policy)
    wid = await gov.workflow_with(api, pid)
    iid = await gov.start(api, wid)
    rid = (await gov.authorize(api, iid, {"amount": 1}))["request"]["request_id"]
    body = {"scope": {"workflow": wid}, "reason": "replay corpus"}
    raised = await api.post("/v1/halts", json=body, headers=ADMIN)
    assert raised.status_code == 201, raised.text
    for _ in range(100):
        trail = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()
        if any(e["type"] == "DEADLINE_FROZEN" for e in trail.get("events", [])):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(3.5)  # past the deadline it had
    halt_id = raised.json()["halt_id"]
    return iid, rid, halt_id


async def halt_freeze(api: httpx.AsyncClient) -> str:
    """A halt freezes the pending request's deadline (an attested Signal); after the lift
    it expires, with the time it had left."""
    iid, rid, halt_id = await _frozen_past_its_deadline(api)
    lift = {"reason": "replay corpus"}
    await _ok(api.post(f"/v1/halts/{halt_id}:lift", json=lift, headers=ADMIN))
    assert (await gov.outcome(api, iid, rid, wait=15))["status"] == "EXPIRED"
    return iid


async def halt_exempt(api: httpx.AsyncClient) -> str:
    """Staged recovery: the agent of a pending request is exempted from the halt that froze
    its deadline (an attested Signal carrying the exemption); it expires on the time it
    had left while the halt still holds."""
    iid, rid, halt_id = await _frozen_past_its_deadline(api)
    exempt = {"scope": {"agent": AGENT_ID}, "reason": "replay corpus"}
    await _ok(api.post(f"/v1/halts/{halt_id}:exempt", json=exempt, headers=ADMIN))
    assert (await gov.outcome(api, iid, rid, wait=15))["status"] == "EXPIRED"
    await _ok(api.post(f"/v1/halts/{halt_id}:lift", json={"reason": "done"}, headers=ADMIN))
    return iid


async def cancel(api: httpx.AsyncClient) -> str:
    iid = str((await start(api))["instance_id"])
    await authorize(api, iid)
    await _ok(api.post(f"/v1/instances/{iid}/cancel", json={"reason": "superseded"},
                       headers=AGENT))  # fmt: skip
    return iid


async def continue_as_new(api: httpx.AsyncClient, temporal: Client, settings: Settings) -> str:
    """A long-lived instance: its runs continue as new every few events (own worker with a
    tiny threshold), across a cost report, a human approval and completion."""
    own, core = await deploy_core(temporal, settings, "can", continue_as_new_after_events=10)
    async with build_worker(temporal, own):
        iid = await start_deploy(core, AGENT_ACTOR)
        for i in range(3):
            cost = AgentEvent(kind=AgentEventKind.COST, cost=Cost(tokens=10), actor=AGENT_ACTOR,
                              idempotency_key=f"cost-{i}")  # fmt: skip
            await core.report(iid, cost)
        pending = await core.authorize(iid, AuthorizeStep(step_id="deploy", actor=AGENT_ACTOR))
        assert pending.request is not None
        rid = pending.request.request_id
        lead = Actor(id="alice", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])
        await core.decide(iid, Decide(request_id=rid, decision_type=DecisionType.APPROVE,
                                      actor=lead, idempotency_key="approve-1",
                                      seen_args_digest=pending.request.args_digest))  # fmt: skip
        assert (await core.get_request(iid, rid, wait=20)).grant is not None
        await core.finish(iid, Finish(kind=FinishKind.COMPLETE, actor=AGENT_ACTOR))
        await temporal.get_workflow_handle(iid).result()
    return iid


async def standing(api: httpx.AsyncClient) -> str:
    """An APPROVE that gives a standing grant (issue 24), its grant used, then the same
    step authorized again inside the pattern: allowed by the standing grant, no human."""
    pid = gov.uid("pol")
    await gov.put(
        api, f"/v1/policies/{pid}",
        "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
        "standing: {max_ttl: 1h, max_uses: 5, roles: [TECH_LEAD]}\n",
    )  # fmt: skip
    wid = await gov.workflow_with(api, pid)
    iid = str((await start(api, workflow=wid))["instance_id"])
    args = {"amount": 5, "to": "acme-1"}
    pending = await authorize(api, iid, step="act", args=args)
    ask = {"pattern": {"amount": {"min": 0, "max": 5}, "to": {"prefix": "acme-"}},
           "ttl": "30m", "max_uses": 5}  # fmt: skip
    rid = pending["request"]["request_id"]
    await _ok(decide(api, iid, rid, "APPROVE", LEAD, standing=ask))
    grant = (await gov.outcome(api, iid, rid))["grant"]
    for body in (
        {"kind": "STEP_STARTED", "step_id": "act", "grant_id": grant["grant_id"],
         "args_digest": pending["args_digest"]},
        {"kind": "STEP_COMPLETED", "step_id": "act"},
    ):  # fmt: skip
        await _ok(api.post(f"/v1/instances/{iid}/events", json=body, headers=AGENT))
    allowed = await authorize(api, iid, step="act", args={"amount": 3, "to": "acme-2"})
    assert allowed["outcome"] == "ALLOW" and allowed["standing_id"], allowed
    for body in (
        {"kind": "STEP_STARTED", "step_id": "act", "grant_id": allowed["grant"]["grant_id"],
         "args_digest": allowed["args_digest"]},
        {"kind": "STEP_COMPLETED", "step_id": "act"},
    ):  # fmt: skip
        await _ok(api.post(f"/v1/instances/{iid}/events", json=body, headers=AGENT))
    await _ok(api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT))
    return iid


async def break_glass(api: httpx.AsyncClient, glass_api: httpx.AsyncClient) -> str:
    """A step whose policy asks for a human, allowed under a break-glass opened by a
    `2_of(security, platform-admin)` quorum (issue 24) on `glass_api`, a replica that
    configures it: ALLOWED_BY_BREAK_GLASS, the grant used, the instance completed."""
    pid = gov.uid("pol")
    policy = "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
    await gov.put(api, f"/v1/policies/{pid}", policy)
    wid = await gov.workflow_with(api, pid)
    iid = str((await start(api, workflow=wid))["instance_id"])
    opener = bearer("sid", ["security"], teams=())
    body = {"scope": {"workflow": wid}, "reason": "INC-9", "ttl": "10m"}
    resp = await glass_api.post("/v1/break-glass", json=body, headers=opener)
    assert resp.status_code == 201, resp.text
    opened = resp.json()
    approver = bearer("bo", ["platform-admin"], teams=())
    path = f"/v1/break-glass/{opened['break_glass_id']}:approve"
    await _ok(glass_api.post(path, json={"reason": "confirmed"}, headers=approver))
    allowed = await authorize(glass_api, iid, step="act", args={"amount": 5})
    assert allowed["outcome"] == "ALLOW" and allowed["break_glass_id"], allowed
    for event in (
        {"kind": "STEP_STARTED", "step_id": "act", "grant_id": allowed["grant"]["grant_id"],
         "args_digest": allowed["args_digest"]},
        {"kind": "STEP_COMPLETED", "step_id": "act"},
    ):  # fmt: skip
        await _ok(api.post(f"/v1/instances/{iid}/events", json=event, headers=AGENT))
    await _ok(api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT))
    return iid


DRIVERS: dict[str, Scenario] = {
    "approve": approve,
    "reject": reject,
    "override-recheck": override_recheck,
    "quorum": quorum,
    "escalation-expiry": escalation_expiry,
    "cancel": cancel,
    "standing": standing,
    "halt-freeze": halt_freeze,
    "halt-exempt": halt_exempt,
}

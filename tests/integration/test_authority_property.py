"""Property (issue 10): random sequences of API calls by several agents and humans of two
teams, mixed with calls sent straight to Temporal without the API's attestation, never
start a governed step without a grant that an authorized human gave to that agent for
exactly those arguments; and every decision answered 2xx is in the audit log exactly once.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowUpdateFailedError

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.digest import args_digest
from gantral.domain.records import DecisionType
from gantral.workflows.messages import AgentEvent, AgentEventKind, Decide
from tests.helpers.auth import bearer
from tests.helpers.lifecycle import sealed_audit
from tests.helpers.publishing import publish_one_step

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

AGENTS = {
    "a": bearer("prop-agent-a", agent=True),
    "b": bearer("prop-agent-b", agent=True),
    "r": bearer("prop-agent-r", teams=["risk"], agent=True),
}
HUMANS = {
    "lead": bearer("prop-lead", ["TECH_LEAD", "approver"]),
    "lead2": bearer("prop-lead2", ["TECH_LEAD", "approver"]),
    "rita": bearer("prop-rita", ["TECH_LEAD", "approver", "supervisor"], teams=["risk"]),
    "boss": bearer("prop-boss", ["SRE_MANAGER", "supervisor"]),
}
ARGS = [{"amount": 10}, {"amount": 20}]
DELTAS = [{"amount": 11}, {"to": "evil"}]
KEYS = ["k0", "k1"]
POLICY = """
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
override_roles: [SRE_MANAGER]
grant_ttl: 1h
"""

op = st.one_of(
    st.tuples(st.just("authorize"), st.sampled_from(sorted(AGENTS)), st.integers(0, 1)),
    st.tuples(
        st.just("decide"),
        st.sampled_from(sorted(HUMANS)),
        st.sampled_from(["APPROVE", "REJECT", "OVERRIDE"]),
        st.integers(0, len(KEYS) - 1),
        st.integers(0, len(DELTAS) - 1),
    ),
    st.tuples(
        st.just("start"), st.sampled_from(sorted(AGENTS)), st.integers(0, 2), st.integers(0, 2)
    ),
    st.tuples(st.just("forge"), st.sampled_from(["decide", "report"])),
)


@pytest.fixture(scope="module")
def workflow_id() -> str:
    return f"authprop-{uuid.uuid4().hex[:8]}"


class World:
    """What the test has been told by 2xx answers: the only source of authority."""

    def __init__(self) -> None:
        self.request: dict[str, Any] | None = None
        self.grants: dict[str, dict[str, Any]] = {}  # grant id -> the grant as issued
        self.decisions: set[str] = set()  # decision ids answered 2xx
        self.used: set[str] = set()
        self.started = 0


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=2, max_size=9))
async def test_no_step_starts_without_a_humans_grant_and_decisions_are_audited_once(
    api: httpx.AsyncClient, temporal: Client, workflow_id: str, ops: list[tuple[Any, ...]]
) -> None:
    await publish_one_step(api, workflow_id, POLICY)
    body = {"workflow_id": workflow_id, "owning_team_id": "payments"}
    resp = await api.post("/v1/instances", json=body, headers=AGENTS["a"])
    iid = resp.json()["instance_id"]
    base = f"/v1/instances/{iid}"
    world = World()
    for kind, *params in ops:
        if kind == "authorize":
            who, args = params
            resp = await api.post(
                f"{base}/steps/act/authorize",
                json={"action": "pay", "arguments": ARGS[args]},
                headers=AGENTS[who],
            )
            assert resp.status_code in (200, 404, 409), resp.text
            if resp.status_code == 200:
                world.request = resp.json()["request"]
        elif kind == "decide" and world.request is not None:
            await _decide(api, base, world, *params)
        elif kind == "start":
            await _start(api, base, world, *params)
        elif kind == "forge":
            await _forge(temporal, iid, world, params[0])
    await api.post(f"{base}/cancel", json={}, headers=AGENTS["a"])
    events = await sealed_audit(api, iid)
    recorded = [e["payload"]["decision_id"] for e in events if e["type"] == "DECISION_RECORDED"]
    assert sorted(recorded) == sorted(world.decisions), "a 2xx decision not audited once"
    starts = [
        e
        for e in events
        if e["type"] == "AGENT_EVENT" and e["payload"].get("kind") == "STEP_STARTED"
    ]
    assert len(starts) == world.started


async def _decide(
    api: httpx.AsyncClient, base: str, world: World, who: str, kind: str, key: int, delta: int
) -> None:
    assert world.request is not None
    body: dict[str, Any] = {
        "request_id": world.request["request_id"],
        "seen_args_digest": world.request["args_digest"],
        "decision_type": kind,
        "idempotency_key": KEYS[key],
    }
    if kind != "APPROVE":
        body["justification"] = "because"
    if kind == "OVERRIDE":
        body["context_delta"] = DELTAS[delta]
    resp = await api.post(f"{base}/decisions", json=body, headers=HUMANS[who])
    assert resp.status_code in (200, 403, 404, 409, 422), resp.text
    if resp.status_code != 200:
        return
    assert who != "rita", "a human of another team decided"
    result = resp.json()
    world.decisions.add(result["decision"]["decision_id"])
    if result["state"] == "RUNNING" and result["request"]["status"] in ("APPROVED", "OVERRIDDEN"):
        # The grant is usable (and shown) once the decision is audited: long-poll for it.
        rid = result["request"]["request_id"]
        outcome = await api.get(f"{base}/requests/{rid}?wait=10", headers=AGENTS["a"])
        grant = outcome.json()["grant"]
        assert grant is not None
        world.grants[grant["grant_id"]] = grant


async def _start(
    api: httpx.AsyncClient, base: str, world: World, who: str, grant_ix: int, args_ix: int
) -> None:
    known = sorted(world.grants)
    grant_id = known[grant_ix] if grant_ix < len(known) else f"grant_forged{grant_ix}"
    grant = world.grants.get(grant_id)
    if args_ix < len(ARGS):
        digest = args_digest("pay", ARGS[args_ix])
    else:
        digest = grant["args_digest"] if grant else "sha256:" + "0" * 64
    event = {"kind": "STEP_STARTED", "step_id": "act", "grant_id": grant_id, "args_digest": digest}
    resp = await api.post(f"{base}/events", json=event, headers=AGENTS[who])
    assert resp.status_code in (200, 404, 409), resp.text
    if resp.status_code == 200:
        assert grant is not None, "a step started without a grant a human gave"
        assert grant["args_digest"] == digest, "a step started with unapproved arguments"
        assert grant["holder"] == f"prop-agent-{who}", "a grant used by another agent"
        assert grant_id not in world.used, "a grant was used twice"
        world.used.add(grant_id)
        world.started += 1


async def _forge(temporal: Client, iid: str, world: World, kind: str) -> None:
    """A call straight to Temporal, without the API's attestation: always refused."""
    handle = temporal.get_workflow_handle(iid)
    invented = Actor(id=f"inv-{uuid.uuid4().hex[:4]}", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])
    payload: Decide | AgentEvent
    if kind == "decide":
        payload = Decide(
            request_id=(world.request or {}).get("request_id", "req_x"),
            decision_type=DecisionType.APPROVE,
            actor=invented,
            role="TECH_LEAD",
            idempotency_key=uuid.uuid4().hex,
        )
    else:
        grant_id = next(iter(world.grants), "grant_x")
        payload = AgentEvent(
            kind=AgentEventKind.STEP_STARTED,
            step_id="act",
            grant_id=grant_id,
            args_digest=world.grants.get(grant_id, {}).get("args_digest"),
            actor=Actor(id="prop-agent-a", kind=ActorKind.AGENT),
        )
    with pytest.raises((WorkflowUpdateFailedError, Exception)) as info:
        await handle.execute_update(kind, payload)
    if isinstance(info.value, WorkflowUpdateFailedError):
        cause = info.value.cause
        reason = getattr(cause, "details", [{}])[0].get("reason")
        assert reason == "unattested", cause

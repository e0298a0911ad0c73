"""Regression tests for every way around a human decision (issue 10), on the real stack:
idempotency keys scoped to caller and body, attested calls, grants bound to their holder,
the separation-of-duties opt-out, bad JSON kept out of the outbox, cost never dropped,
outsiders answered 404, and retries that record nothing new."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from gantral.attestation import Attestor
from gantral.audit.checkpoint import generate_key_pem, load_private_key
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.records import DecisionType
from gantral.policy.templates import WorkflowTemplate
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.messages import AgentEvent, AgentEventKind, Decide, StartInstance
from tests.helpers.access_log import refusals_on
from tests.helpers.auth import AGENT, AUDITOR, LEAD, SECURITY, bearer
from tests.helpers.lifecycle import (
    ARGS,
    authorize,
    decide,
    sealed_audit,
    start,
)
from tests.helpers.session import ATTESTATION_KEY

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

API_SIGNER = Attestor(load_private_key(ATTESTATION_KEY))
ROUTE = "/v1/instances"


async def _events(api: httpx.AsyncClient, iid: str, count: int) -> list[dict[str, Any]]:
    """The instance's stored audit events, once at least `count` are stored."""
    events: list[dict[str, Any]] = []
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        events = resp.json().get("events", []) if resp.status_code == 200 else []
        if len(events) >= count:
            break
        await asyncio.sleep(0.1)
    return events


async def _approved_grant(api: httpx.AsyncClient, iid: str, rid: str) -> dict[str, Any]:
    """Approve, then wait for the grant: it is usable once the decision is audited."""
    approved = await decide(api, iid, rid, "APPROVE", LEAD)
    assert approved.status_code == 200, approved.text
    assert approved.json()["request"]["grant"] is None  # answered before the sink stored it
    outcome = await api.get(f"{ROUTE}/{iid}/requests/{rid}?wait=10", headers=AGENT)
    grant: dict[str, Any] = outcome.json()["grant"]
    return grant


# --- 1. idempotency keys are the caller's own ------------------------------------------


async def test_a_second_human_with_the_same_key_is_counted_not_handed_the_first_result(
    api: httpx.AsyncClient,
) -> None:
    iid = (await start(api, workflow="quorum"))["instance_id"]
    rid = (await authorize(api, iid, step="transfer", args={"amount": 1}))["request"]["request_id"]
    alice = await decide(api, iid, rid, "APPROVE", LEAD, key="k1")
    assert alice.status_code == 200 and alice.json()["state"] == "WAITING_FOR_HUMAN"
    sam = await decide(api, iid, rid, "APPROVE", SECURITY, key="k1")
    assert sam.status_code == 200, sam.text
    assert sam.json()["decision"]["human_actor_id"] == "sam"
    assert sam.json()["state"] == "RUNNING"  # both approvals counted: quorum met
    again = await decide(api, iid, rid, "APPROVE", LEAD, key="k1")
    assert again.status_code == 200  # alice's own retry: her first outcome, nothing new
    assert again.json()["decision"] == alice.json()["decision"]
    view = (await api.get(f"{ROUTE}/{iid}", headers=LEAD)).json()
    assert [d["human_actor_id"] for d in view["decisions"]] == ["alice", "sam"]


async def test_a_reject_with_a_used_key_is_not_swallowed(api: httpx.AsyncClient) -> None:
    iid = (await start(api, workflow="quorum"))["instance_id"]
    rid = (await authorize(api, iid, step="transfer", args={"amount": 2}))["request"]["request_id"]
    assert (await decide(api, iid, rid, "APPROVE", LEAD, key="k1")).status_code == 200
    carol = bearer("carol", ["SECURITY_REVIEWER", "approver"])
    rejected = await decide(api, iid, rid, "REJECT", carol, key="k1", justification="no")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["decision"]["decision_type"] == "REJECT"
    assert rejected.json()["state"] == "TERMINATED"


async def test_the_same_key_with_another_body_is_409(api: httpx.AsyncClient) -> None:
    iid = (await start(api, workflow="quorum"))["instance_id"]
    rid = (await authorize(api, iid, step="transfer", args={"amount": 3}))["request"]["request_id"]
    assert (await decide(api, iid, rid, "APPROVE", LEAD, key="k9")).status_code == 200
    other = await decide(api, iid, rid, "REJECT", LEAD, key="k9", justification="changed mind")
    assert other.status_code == 409
    assert other.json()["reason"] == "idempotency_key_reused"


async def test_start_keys_are_scoped_to_the_caller_and_the_request(
    api: httpx.AsyncClient,
) -> None:
    key = f"start-{uuid.uuid4().hex[:8]}"
    body = {"workflow_id": "deploy", "owning_team_id": "payments", "idempotency_key": key}
    first = await api.post(ROUTE, json={**body, "trigger_context": {"ticket": 1}}, headers=AGENT)
    assert first.status_code == 201, first.text
    retry = await api.post(ROUTE, json={**body, "trigger_context": {"ticket": 1}}, headers=AGENT)
    assert retry.status_code == 200
    assert retry.json()["instance_id"] == first.json()["instance_id"]
    changed = await api.post(ROUTE, json={**body, "trigger_context": {"ticket": 2}}, headers=AGENT)
    assert changed.status_code == 409 and changed.json()["reason"] == "idempotency_key_reused"
    other_agent = bearer("agent-8", agent=True)
    theirs = await api.post(
        ROUTE, json={**body, "trigger_context": {"ticket": 3}}, headers=other_agent
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["instance_id"] != first.json()["instance_id"]
    assert theirs.json()["trigger_context"] == {"ticket": 3}
    # Ids are keyed with a server secret: not sha256(team, key) as anyone could compute.
    guess = hashlib.sha256(f"payments\x00{key}".encode()).hexdigest()[:32]
    assert first.json()["instance_id"] != f"inst_{guess}"


# --- 2. only the API may decide --------------------------------------------------------


async def test_decisions_sent_straight_to_temporal_must_be_attested_by_the_api(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid = (await start(api, workflow="quorum"))["instance_id"]
    rid = (await authorize(api, iid, step="transfer", args={"amount": 4}))["request"]["request_id"]
    handle = temporal.get_workflow_handle(iid)

    async def direct(actor: Actor, role: str, signer: Attestor | None) -> ApplicationError:
        decision = Decide(
            request_id=rid,
            decision_type=DecisionType.APPROVE,
            actor=actor,
            role=role,
            idempotency_key=uuid.uuid4().hex,
        )
        if signer is not None:
            decision.attestation = signer.attest("decide", iid, decision)
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update("decide", decision)
        assert isinstance(info.value.cause, ApplicationError)
        return info.value.cause

    # Two invented humans holding exactly the two roles the quorum needs.
    for name, role in (("inv-1", "TECH_LEAD"), ("inv-2", "SECURITY_REVIEWER")):
        invented = Actor(id=name, kind=ActorKind.HUMAN, roles=[role])
        refused = await direct(invented, role, None)
        assert refused.type == "forbidden" and refused.details[0]["reason"] == "unattested"
        foreign = Attestor(load_private_key(_fresh_key()))
        refused = await direct(invented, role, foreign)
        assert refused.details[0]["reason"] == "unattested"
    # Behind the attestation the pinned policy still decides (roles held, humans only).
    claimed = Actor(id="ivan", kind=ActorKind.HUMAN, roles=[])
    refused = await direct(claimed, "TECH_LEAD", API_SIGNER)
    assert refused.details[0]["reason"] == "role_not_held"
    bot = Actor(id="bot", kind=ActorKind.AGENT, roles=["TECH_LEAD"])
    assert (await direct(bot, "TECH_LEAD", API_SIGNER)).details[0]["reason"] == "not_human"
    view = (await api.get(f"{ROUTE}/{iid}", headers=LEAD)).json()
    assert view["state"] == "WAITING_FOR_HUMAN" and view["decisions"] == []
    assert view["pending_request"]["grant"] is None


async def test_an_unattested_start_fails_before_anything_is_audited(
    api: httpx.AsyncClient, temporal: Client, settings: Any
) -> None:
    deploy = WorkflowTemplate.model_validate(
        {"id": "deploy", "version": 1, "steps": [{"id": "plan"}]}
    )
    iid = f"inst_forged_{uuid.uuid4().hex[:8]}"
    forged = StartInstance(
        instance_id=iid,
        template=deploy,
        template_hash="sha256:0",
        owning_team_id="payments",
        started_by=Actor(id="inv", kind=ActorKind.HUMAN, roles=["TECH_LEAD"]),
        audit_task_queue=settings.temporal.audit_task_queue,
    )
    handle = await temporal.start_workflow(
        InstanceWorkflow.run, forged, id=iid, task_queue=settings.temporal.task_queue
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
    assert resp.status_code == 404 or resp.json()["events"] == []


# --- 7. separation_of_duties: false is honoured and recorded --------------------------


async def test_separation_of_duties_opt_out_counts_the_requesters_approval(
    api: httpx.AsyncClient,
) -> None:
    olga = bearer("olga", ["TECH_LEAD", "operator", "approver"])
    resp = await api.post(
        ROUTE, json={"workflow_id": "no-sod", "owning_team_id": "payments"}, headers=olga
    )
    assert resp.status_code == 201, resp.text
    iid = resp.json()["instance_id"]
    pending = await api.post(
        f"{ROUTE}/{iid}/steps/ship/authorize", json={"arguments": {"v": 1}}, headers=olga
    )
    rid = pending.json()["request"]["request_id"]
    assert pending.json()["request"]["excluded_approvers"] == []
    own = await decide(api, iid, rid, "APPROVE", olga)
    assert own.status_code == 200, own.text
    assert own.json()["state"] == "RUNNING"
    events = await _events(api, iid, 6)
    requested = next(e for e in events if e["type"] == "HUMAN_REQUESTED")
    assert requested["payload"]["separation_of_duties"] is False
    recorded = next(e for e in events if e["type"] == "DECISION_RECORDED")
    assert recorded["payload"]["separation_of_duties_waived"] is True


# --- 8. grants and pending requests belong to the principal that asked ---------------


async def test_a_grant_is_usable_only_by_its_holder(api: httpx.AsyncClient) -> None:
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    other = bearer("agent-b", agent=True)
    supersede = await api.post(
        f"{ROUTE}/{iid}/steps/deploy/authorize",
        json={"action": "deploy.run", "arguments": {"service": "x"}},
        headers=other,
    )
    assert supersede.status_code == 409
    assert supersede.json()["reason"] == "pending_for_other_principal"
    grant = await _approved_grant(api, iid, rid)
    assert grant["holder"] == "agent-7"
    started = {
        "kind": "STEP_STARTED",
        "step_id": "deploy",
        "grant_id": grant["grant_id"],
        "args_digest": grant["args_digest"],
    }
    stolen = await api.post(f"{ROUTE}/{iid}/events", json=started, headers=other)
    assert stolen.status_code == 409 and stolen.json()["reason"] == "grant_not_yours"
    mine = await api.post(f"{ROUTE}/{iid}/events", json=started, headers=AGENT)
    assert mine.status_code == 200, mine.text


# --- 10/11. bad JSON never reaches an instance; limits are 4xx ------------------------


async def test_numbers_outside_i_json_are_refused_and_the_instance_keeps_working(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid = (await start(api))["instance_id"]
    huge = 2**60
    cost = await api.post(
        f"{ROUTE}/{iid}/events", json={"kind": "COST", "cost": {"tokens": huge}}, headers=AGENT
    )
    assert cost.status_code == 422, cost.text
    args = await api.post(
        f"{ROUTE}/{iid}/steps/deploy/authorize", json={"arguments": {"n": huge}}, headers=AGENT
    )
    assert args.status_code == 422
    rid = (await authorize(api, iid))["request"]["request_id"]
    delta = await decide(api, iid, rid, "OVERRIDE", LEAD, context_delta={"n": huge})
    assert delta.status_code == 422
    # A call sent straight to Temporal is refused by the validator itself, before any
    # outbox could hold what the sink cannot store.
    event = AgentEvent(
        kind=AgentEventKind.COST,
        cost={"tokens": 1},
        detail={"n": huge},
        actor=Actor(id="agent-7", kind=ActorKind.AGENT),
    )
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await temporal.get_workflow_handle(iid).execute_update("report", event)
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.details[0]["reason"] == "not_i_json"
    ok = await api.post(
        f"{ROUTE}/{iid}/events", json={"kind": "COST", "cost": {"tokens": 5}}, headers=AGENT
    )
    assert ok.status_code == 200, ok.text
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    done = await api.post(f"{ROUTE}/{iid}/complete", json={}, headers=AGENT)
    assert done.status_code == 200, done.text
    events = await sealed_audit(api, iid)
    assert [e["type"] for e in events].count("DECISION_RECORDED") == 1


async def test_oversized_fields_are_refused_with_a_clear_4xx(api: httpx.AsyncClient) -> None:
    big = {"blob": "x" * 70_000}
    resp = await api.post(
        ROUTE,
        json={"workflow_id": "deploy", "owning_team_id": "payments", "trigger_context": big},
        headers=AGENT,
    )
    assert resp.status_code == 422, resp.text
    assert "trigger_context" in resp.text and "field_too_large" in resp.text


# --- 13. outsiders cannot see or grow another team's instance ------------------------


async def test_outsiders_get_404_and_leave_no_trace_in_the_instance(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid = (await start(api))["instance_id"]
    outsider = bearer("rita", ["TECH_LEAD", "approver"], teams=["risk"])
    unknown = await api.get(f"{ROUTE}/inst_{uuid.uuid4().hex}", headers=outsider)
    theirs = await api.get(f"{ROUTE}/{iid}", headers=outsider)
    assert unknown.status_code == theirs.status_code == 404
    assert unknown.json()["reason"] == theirs.json()["reason"] == "unknown_instance"
    for _ in range(5):
        resp = await api.post(
            f"{ROUTE}/{iid}/decisions",
            json={
                "request_id": "r",
                "seen_args_digest": "sha256:x",
                "decision_type": "APPROVE",
                "idempotency_key": "x",
            },
            headers=outsider,
        )
        assert resp.status_code == 404
    # Recorded where refusals belong, the access log (the read of the instance and the
    # five decisions); by then the instance's own log holds its start (2 events) and no
    # refusal. (Waiting for a third event, which never comes, only burnt 10 s.)
    await refusals_on(api, temporal, iid, 6)
    events = await _events(api, iid, 2)
    assert not [e for e in events if e["type"] == "ACCESS_REFUSED"]


# --- 15. cost reported with a step event counts ---------------------------------------


async def test_cost_on_step_events_is_counted(api: httpx.AsyncClient) -> None:
    iid = (await start(api))["instance_id"]
    grant = (await authorize(api, iid, step="plan", args={}))["grant"]
    step = {"step_id": "plan", "cost": {"tokens": 10, "money": 0.5}}
    for kind in ("STEP_STARTED", "STEP_COMPLETED"):
        body = {"kind": kind, **step}
        if kind == "STEP_STARTED":
            body |= {"grant_id": grant["grant_id"], "args_digest": grant["args_digest"]}
        resp = await api.post(f"{ROUTE}/{iid}/events", json=body, headers=AGENT)
        assert resp.status_code == 200, resp.text
    view = (await api.get(f"{ROUTE}/{iid}", headers=AGENT)).json()
    assert view["cost"]["tokens"] == 20 and view["cost"]["money"] == 1.0


# --- 19. retries return the first outcome and record nothing new --------------------


async def test_retried_step_start_and_complete_record_nothing_new(
    api: httpx.AsyncClient,
) -> None:
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    grant = await _approved_grant(api, iid, rid)
    started = {
        "kind": "STEP_STARTED",
        "step_id": "deploy",
        "grant_id": grant["grant_id"],
        "args_digest": grant["args_digest"],
        "idempotency_key": "start-deploy",
    }
    first = await api.post(f"{ROUTE}/{iid}/events", json=started, headers=AGENT)
    retry = await api.post(f"{ROUTE}/{iid}/events", json=started, headers=AGENT)
    assert first.status_code == retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    finish = {"reason": "done", "idempotency_key": "finish-1"}
    done = await api.post(f"{ROUTE}/{iid}/complete", json=finish, headers=AGENT)
    assert done.status_code == 200, done.text
    events = await sealed_audit(api, iid)
    again = await api.post(f"{ROUTE}/{iid}/complete", json=finish, headers=AGENT)
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "COMPLETED"
    types = [e["type"] for e in events]
    assert "VIOLATION" not in types
    assert types.count("AGENT_EVENT") == 1
    assert len(await _events(api, iid, len(events))) == len(events)
    assert grant["arguments"] == ARGS


def _fresh_key() -> str:
    return generate_key_pem()[0]


async def test_a_callback_url_is_https_only_signed_and_recorded(api: httpx.AsyncClient) -> None:
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    plain = await api.post(
        ROUTE, json={**body, "callback_url": "http://fn.example/wake"}, headers=AGENT
    )
    assert plain.status_code == 422
    url = "https://fn.example/wake"
    iid = (await api.post(ROUTE, json={**body, "callback_url": url}, headers=AGENT)).json()[
        "instance_id"
    ]
    started = (await _events(api, iid, 1))[0]
    assert started["type"] == "INSTANCE_STARTED"
    assert started["payload"]["callback_url"] == url
    assert started["payload"]["attested"]["body"]["callback_url"] == url
    # What governed the instance is in the log itself: each governed step's pinned policy.
    pinned = started["payload"]["pinned_policies"]["deploy"]
    assert pinned["inline"] is True and pinned["content_hash"]


async def test_a_cancel_through_temporal_ends_the_instance_as_a_governed_event(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    handle = temporal.get_workflow_handle(iid)
    await handle.cancel()  # what the Web UI's "Request Cancellation" does
    await handle.result()
    view = (await api.get(f"{ROUTE}/{iid}", headers=LEAD)).json()
    assert view["state"] == "TERMINATED"
    last = view["transitions"][-1]
    assert last["actor"]["id"] == "temporal" and "Temporal" in last["cause"]
    assert next(r for r in view["requests"] if r["request_id"] == rid)["status"] == "CANCELLED"
    events = await sealed_audit(api, iid)
    assert events[-1]["type"] == "INSTANCE_SEALED"
    verdict = (await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)).json()
    assert verdict["ok"] is True, verdict


async def test_one_rule_for_a_callback_url_wherever_it_is_named(api: httpx.AsyncClient) -> None:
    """The start field and the trigger-context key take the same URLs: https, http only to
    this machine, no credentials."""
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    for url, allowed in [
        ("http://fn.example/wake", False),
        ("https://user:pw@fn.example/wake", False),
        ("ftp://fn.example/wake", False),
        ("https://fn.example/wake", True),
        ("http://127.0.0.1:8080/wake", True),
    ]:
        for named in (
            {**body, "callback_url": url},
            {**body, "trigger_context": {"gantral:callback_url": url}},
        ):
            resp = await api.post(ROUTE, json=named, headers=AGENT)
            assert resp.status_code == (201 if allowed else 422), (named, resp.text)
            if not allowed:
                assert resp.json()["reason"] == "validation_failed"

"""The HITL state machine end to end: API -> Temporal workflow -> audit sink activity."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from tests.helpers.access_log import refusals_on
from tests.helpers.auth import AGENT, AUDITOR, LEAD, LEAD2, MANAGER, SECURITY, bearer
from tests.helpers.lifecycle import ARGS, authorize, decide, sealed_audit, start

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def states(view: dict[str, Any]) -> list[str]:
    return [t["to_state"] for t in view["transitions"]]


async def test_happy_path_authorize_pending_approve_resume_complete(
    api: httpx.AsyncClient,
) -> None:
    inst = await start(api)
    iid = inst["instance_id"]
    assert inst["state"] == "RUNNING"

    plan = await authorize(api, iid, step="plan", args={})
    assert plan["outcome"] == "ALLOW" and plan["grant"]["step_id"] == "plan"

    pending = await authorize(api, iid)
    assert pending["outcome"] == "PENDING"
    request = pending["request"]
    assert request["required_approvers"] == ["TECH_LEAD"] and request["materiality"] == "HIGH"
    assert request["context_snapshot"]["arguments"] == ARGS
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["state"] == "WAITING_FOR_HUMAN"
    assert view["pending_request"]["request_id"] == request["request_id"]
    assert view["pending_request"]["deadline"] is not None

    poll = asyncio.create_task(
        api.get(f"/v1/instances/{iid}/requests/{request['request_id']}?wait=20", headers=AGENT)
    )
    resp = await decide(api, iid, request["request_id"], "APPROVE", LEAD)
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["state"] == "RUNNING"
    assert result["decision"]["human_actor_id"] == "alice"
    # The snapshot is stored once, with the request; the decision references it.
    assert result["decision"]["args_digest"] == pending["args_digest"]
    assert result["decision"]["context_snapshot_ref"] == request["context_snapshot_ref"]
    outcome = (await poll).json()
    assert outcome["status"] == "APPROVED"
    grant = outcome["grant"]
    assert grant["args_digest"] == pending["args_digest"]

    started = await api.post(
        f"/v1/instances/{iid}/events",
        json={"kind": "STEP_STARTED", "step_id": "deploy", "grant_id": grant["grant_id"],
              "args_digest": pending["args_digest"]},
        headers=AGENT,
    )  # fmt: skip
    assert started.status_code == 200, started.text
    for body in (
        {"kind": "STEP_COMPLETED", "step_id": "deploy"},
        {"kind": "COST", "cost": {"tokens": 1200, "money": 0.42, "wall_time_seconds": 3.5}},
    ):
        assert (await api.post(f"/v1/instances/{iid}/events", json=body, headers=AGENT)).is_success
    done = await api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT)
    assert done.status_code == 200, done.text
    final = done.json()
    assert final["state"] == "COMPLETED"
    assert final["cost"]["tokens"] == 1200
    assert states(final) == [
        "RUNNING", "WAITING_FOR_HUMAN", "APPROVED", "RESUMED", "RUNNING", "COMPLETED",
    ]  # fmt: skip
    assert [t["seq"] for t in final["transitions"]] == list(range(1, 7))
    events = await sealed_audit(api, iid)
    types = [e["type"] for e in events]
    assert types[0] == "INSTANCE_STARTED" and types[-1] == "INSTANCE_SEALED"
    assert types.count("DECISION_RECORDED") == 1
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    requested = next(e for e in events if e["type"] == "HUMAN_REQUESTED")
    assert requested["payload"]["args_digest"] == pending["args_digest"]
    assert requested["snapshot"]["sha256"]  # stored in object storage, referenced by hash
    verdict = (await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)).json()
    assert verdict["ok"] is True, verdict


async def test_reject_terminates(api: httpx.AsyncClient) -> None:
    iid = (await start(api))["instance_id"]
    request = (await authorize(api, iid))["request"]
    no_reason = await decide(api, iid, request["request_id"], "REJECT", LEAD)
    assert no_reason.status_code == 422
    assert no_reason.json()["reason"] == "justification_required"
    resp = await decide(api, iid, request["request_id"], "REJECT", LEAD, justification="risky")
    assert resp.status_code == 200, resp.text
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["state"] == "TERMINATED"
    assert states(view)[-2:] == ["REJECTED", "TERMINATED"]
    assert view["decisions"][0]["justification"] == "risky"


async def test_override_returns_changed_parameters(api: httpx.AsyncClient) -> None:
    iid = (await start(api))["instance_id"]
    pending = await authorize(api, iid)
    rid = pending["request"]["request_id"]
    no_just = await decide(api, iid, rid, "OVERRIDE", MANAGER, context_delta={"version": "2.4.0"})
    assert no_just.status_code == 422
    resp = await decide(
        api, iid, rid, "OVERRIDE", MANAGER,
        justification="roll back to the last good version", context_delta={"version": "2.4.0"},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["state"] == "RUNNING"
    assert body["decision"]["decision_type"] == "OVERRIDE"
    outcome = (await api.get(f"/v1/instances/{iid}/requests/{rid}?wait=10", headers=AGENT)).json()
    assert outcome["status"] == "OVERRIDDEN"
    assert outcome["context_delta"] == {"version": "2.4.0"}
    assert outcome["grant"]["arguments"] == {"service": "billing", "version": "2.4.0"}
    assert outcome["grant"]["args_digest"] != pending["args_digest"]
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert "OVERRIDDEN" in states(view)


async def test_timeout_escalates_then_expires(api: httpx.AsyncClient) -> None:
    iid = (await start(api, workflow="fast-timeout"))["instance_id"]
    pending = await authorize(api, iid, step="release")
    rid = pending["request"]["request_id"]
    outcome = (await api.get(f"/v1/instances/{iid}/requests/{rid}?wait=15", headers=AGENT)).json()
    assert outcome["status"] == "EXPIRED"
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["state"] == "TERMINATED"
    assert states(view)[-2:] == ["EXPIRED", "TERMINATED"]
    assert "REJECTED" not in states(view)
    assert view["transitions"][-2]["actor"]["kind"] == "system"
    assert view["decisions"] == []
    types = [e["type"] for e in await sealed_audit(api, iid)]
    assert types.index("ESCALATED") < types.index("TIMED_OUT")
    late = await decide(api, iid, rid, "APPROVE", LEAD)
    assert late.status_code == 409


async def test_duplicate_decision_with_same_key_is_one_decision(api: httpx.AsyncClient) -> None:
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    first, second = await asyncio.gather(
        decide(api, iid, rid, "APPROVE", LEAD, key="same-key"),
        decide(api, iid, rid, "APPROVE", LEAD, key="same-key"),
    )
    assert first.status_code == second.status_code == 200
    assert first.json()["decision"]["decision_id"] == second.json()["decision"]["decision_id"]
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert len(view["decisions"]) == 1


async def test_racing_decisions_exactly_one_wins(api: httpx.AsyncClient) -> None:
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    results = await asyncio.gather(
        decide(api, iid, rid, "APPROVE", LEAD),
        decide(api, iid, rid, "REJECT", LEAD2, justification="no"),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert len(view["decisions"]) == 1


async def test_decision_on_instance_not_waiting_is_409(api: httpx.AsyncClient) -> None:
    iid = (await start(api))["instance_id"]
    allow = await authorize(api, iid, step="plan", args={})
    assert allow["outcome"] == "ALLOW"
    resp = await decide(api, iid, "req_nope", "APPROVE", LEAD)
    assert resp.status_code == 404
    rid = (await authorize(api, iid))["request"]["request_id"]
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    again = await decide(api, iid, rid, "APPROVE", LEAD2)
    assert again.status_code == 409
    assert again.json()["reason"] == "already_decided"


async def test_quorum_needs_two_distinct_roles_and_refuses_self_approval(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid = (await start(api, workflow="quorum"))["instance_id"]
    rid = (await authorize(api, iid, step="transfer", args={"amount": 5000}))["request"][
        "request_id"
    ]
    # A human holding the id of the agent that triggered the instance.
    self_approval = await decide(
        api, iid, rid, "APPROVE", bearer("agent-7", ["TECH_LEAD", "approver"])
    )
    assert self_approval.status_code == 403
    assert self_approval.json()["reason"] == "separation_of_duties"
    first = await decide(api, iid, rid, "APPROVE", LEAD)
    assert first.status_code == 200 and first.json()["state"] == "WAITING_FOR_HUMAN"
    assert first.json()["request"]["still_needed"] == ["SECURITY_REVIEWER"]
    twice = await decide(api, iid, rid, "APPROVE", LEAD)
    assert twice.status_code == 409
    second = await decide(api, iid, rid, "APPROVE", SECURITY)
    assert second.status_code == 200 and second.json()["state"] == "RUNNING"
    # Refusals go to the access log, naming the instance; never into its own history.
    audit = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()
    assert not [e for e in audit["events"] if e["type"] == "ACCESS_REFUSED"]
    refused = await refusals_on(api, temporal, iid, 2)
    assert {(e["actor"]["id"], e["payload"]["reason"]) for e in refused} == {
        ("agent-7", "separation_of_duties"),
        ("alice", "already_approved"),
    }


async def test_agent_cannot_pass_a_governed_step_without_a_grant(
    api: httpx.AsyncClient,
) -> None:
    iid = (await start(api))["instance_id"]
    sneaky = await api.post(
        f"/v1/instances/{iid}/events",
        json={"kind": "STEP_COMPLETED", "step_id": "deploy"},
        headers=AGENT,
    )
    assert sneaky.status_code == 409
    assert sneaky.json()["reason"] == "not_authorized"
    no_grant = await api.post(
        f"/v1/instances/{iid}/events",
        json={"kind": "STEP_STARTED", "step_id": "deploy"},
        headers=AGENT,
    )
    assert no_grant.status_code == 409 and no_grant.json()["reason"] == "no_grant"
    audit = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()
    violations = [e["payload"]["reason"] for e in audit["events"] if e["type"] == "VIOLATION"]
    assert violations == ["not_authorized", "no_grant"]

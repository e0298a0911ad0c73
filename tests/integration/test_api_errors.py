"""The instance API's contract at its edges: typed JSON errors, idempotent starts, listing."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from temporalio.client import Client

from tests.helpers.access_log import access_log_segment, refusals_of
from tests.helpers.auth import AGENT, AUDITOR, LEAD, bearer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_errors_are_typed_json_never_500(api: httpx.AsyncClient) -> None:
    cases = [
        ("GET", "/v1/instances/inst_unknown", None, 404, "unknown_instance"),
        ("POST", "/v1/instances", {"workflow_id": "nope", "owning_team_id": "payments"}, 404,
         "unknown_workflow"),
        ("POST", "/v1/instances", {"owning_team_id": "payments"}, 422, "validation_failed"),
        ("POST", "/v1/instances", {"workflow_id": "deploy", "owning_team_id": "payments",
                                   "surprise": 1}, 422, "validation_failed"),
        ("POST", "/v1/instances", {"workflow_id": "bad id!", "owning_team_id": "payments"}, 422,
         "validation_failed"),
        ("GET", "/v1/instances?state=SLEEPING", None, 422, "validation_failed"),
        ("GET", "/v1/instances?page_token=zz", None, 404, "bad_page_token"),
    ]  # fmt: skip
    for method, path, body, status, reason in cases:
        resp = await api.request(method, path, json=body, headers=AGENT)
        assert resp.status_code == status, (path, resp.text)
        payload = resp.json()
        assert payload["reason"] == reason, (path, payload)
        assert payload["error"] and payload["message"]
    malformed = await api.post(
        "/v1/instances", content=b"{not json", headers={**AGENT, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid_input"


async def test_unknown_step_and_finished_instances(api: httpx.AsyncClient) -> None:
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    iid = (await api.post("/v1/instances", json=body, headers=AGENT)).json()["instance_id"]
    unknown = await api.post(f"/v1/instances/{iid}/steps/nope/authorize", json={}, headers=AGENT)
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_step"
    done = await api.post(f"/v1/instances/{iid}/cancel", json={"reason": "test"}, headers=AGENT)
    assert done.status_code == 200 and done.json()["state"] == "TERMINATED"
    again = await api.post(f"/v1/instances/{iid}/cancel", json={}, headers=AGENT)
    assert again.status_code == 409
    late = await api.post(f"/v1/instances/{iid}/steps/deploy/authorize", json={}, headers=AGENT)
    assert late.status_code == 409


async def test_same_idempotency_key_returns_the_same_instance(api: httpx.AsyncClient) -> None:
    key = uuid.uuid4().hex
    body = {"workflow_id": "deploy", "owning_team_id": "payments", "idempotency_key": key}
    first, second = await asyncio.gather(
        api.post("/v1/instances", json=body, headers=AGENT),
        api.post("/v1/instances", json=body, headers=AGENT),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    assert first.json()["instance_id"] == second.json()["instance_id"]
    other = await api.post("/v1/instances", json={**body, "workflow_id": "quorum"}, headers=AGENT)
    assert other.status_code == 409 and other.json()["reason"] == "idempotency_key_reused"


async def test_list_filters_and_pages(api: httpx.AsyncClient) -> None:
    body = {"workflow_id": "fast-timeout", "owning_team_id": "payments"}
    started = {
        (await api.post("/v1/instances", json=body, headers=AGENT)).json()["instance_id"]
        for _ in range(3)
    }
    seen: set[str] = set()
    for _ in range(50):  # visibility is eventually consistent
        seen, token = set(), None
        while True:
            query = "workflow=fast-timeout&team=payments&state=RUNNING&page_size=2"
            url = f"/v1/instances?{query}" + (f"&page_token={token}" if token else "")
            page = (await api.get(url, headers=LEAD)).json()
            assert len(page["items"]) <= 2
            assert all(i["workflow_id"] == "fast-timeout" for i in page["items"])
            seen |= {i["instance_id"] for i in page["items"]}
            token = page["next_page_token"]
            if not token:
                break
        if started <= seen:
            break
        await asyncio.sleep(0.2)
    assert started <= seen


async def test_refusals_outside_any_instance_go_to_the_access_log(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    who = f"mallory-{uuid.uuid4().hex[:6]}"
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    refused = await api.post("/v1/instances", json=body, headers=bearer(who, ["approver"]))
    assert refused.status_code == 403
    mine = await refusals_of(api, temporal, who)
    assert [e["type"] for e in mine] == ["ACCESS_REFUSED"]
    assert mine[0]["payload"]["attempted"] == "POST /v1/instances (instances:start)"
    segment = await access_log_segment(temporal)
    verdict = await api.get(f"/v1/audit/instances/{segment}/verify", headers=AUDITOR)
    assert verdict.json()["ok"] is True


async def test_internal_workflow_ids_answer_404_like_any_unknown_instance(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    """Issue 21, item 7: Gantral's own workflows (the access log) are no instance."""
    await access_log_segment(temporal)  # the access log's workflow is running
    for method, path in [
        ("GET", "/v1/instances/gantral-access-log"),
        ("GET", "/v1/instances/gantral-access-log/requests/r1"),
        ("POST", "/v1/instances/gantral-access-log/complete"),
    ]:
        resp = await api.request(method, path, json={} if method == "POST" else None, headers=AGENT)
        assert resp.status_code == 404, (path, resp.text)
        assert resp.json()["reason"] == "unknown_instance", resp.json()


async def test_refused_decisions_name_their_request_in_the_access_log(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    """Issue 21, item 14: a recorded refusal carries the request it was about."""
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    iid = (await api.post("/v1/instances", json=body, headers=AGENT)).json()["instance_id"]
    asked = await api.post(
        f"/v1/instances/{iid}/steps/deploy/authorize",
        json={"arguments": {"version": "1.0"}},
        headers=AGENT,
    )
    rid, digest = asked.json()["request"]["request_id"], asked.json()["args_digest"]
    who = f"no-role-{uuid.uuid4().hex[:6]}"
    decision = {
        "request_id": rid, "seen_args_digest": digest, "decision_type": "APPROVE",
        "idempotency_key": "k",
    }  # fmt: skip
    refused = await api.post(
        f"/v1/instances/{iid}/decisions", json=decision, headers=bearer(who, ["approver"])
    )
    assert refused.status_code == 403, refused.text
    [recorded] = await refusals_of(api, temporal, who)
    assert recorded["payload"]["instance_id"] == iid
    assert recorded["payload"]["request_id"] == rid and rid in recorded["payload"]["attempted"]


async def test_a_cost_field_the_contract_does_not_list_is_refused(api: httpx.AsyncClient) -> None:
    # It used to be dropped silently (and its value, say a 2**60, answered not_i_json).
    started = await api.post(
        "/v1/instances", json={"workflow_id": "deploy", "owning_team_id": "payments"},
        headers=AGENT,
    )  # fmt: skip
    iid = started.json()["instance_id"]
    body = {"kind": "COST", "cost": {"tokens": 5, "model": "gpt"}}
    resp = await api.post(f"/v1/instances/{iid}/events", json=body, headers=AGENT)
    assert resp.status_code == 422, resp.text
    assert "cost.model" in resp.text
    ok = await api.post(
        f"/v1/instances/{iid}/events", json={"kind": "COST", "cost": {"tokens": 5}}, headers=AGENT
    )
    assert ok.status_code == 200, ok.text


async def test_a_decision_without_the_digest_shown_is_refused_and_records_nothing(
    api: httpx.AsyncClient,
) -> None:
    """Issue 21, item 1: every decision names the arguments digest the human was shown."""
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    iid = (await api.post("/v1/instances", json=body, headers=AGENT)).json()["instance_id"]
    asked = await api.post(
        f"/v1/instances/{iid}/steps/deploy/authorize",
        json={"arguments": {"version": "1.0"}},
        headers=AGENT,
    )
    rid = asked.json()["request"]["request_id"]
    decision = {"request_id": rid, "decision_type": "APPROVE", "idempotency_key": "k"}
    for unbound in (decision, {**decision, "seen_args_digest": None}):
        refused = await api.post(f"/v1/instances/{iid}/decisions", json=unbound, headers=LEAD)
        assert refused.status_code == 422, refused.text
        error = refused.json()
        assert (error["error"], error["reason"]) == ("invalid_input", "validation_failed")
        [problem] = error["details"]["errors"]
        assert problem["field"] == "body.seen_args_digest"
        # Says where the digest comes from, not only that it is missing.
        assert "read the request" in problem["message"] and "args_digest" in problem["message"]
        assert error["message"].startswith("body.seen_args_digest: required: read the request")
    # Nothing recorded: the request still waits, no decision, no refusal in its history.
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["decisions"] == [] and view["pending_request"]["request_id"] == rid
    assert view["state"] == "WAITING_FOR_HUMAN"
    # The same decision naming the digest it was shown is recorded (the key was never used).
    shown = (await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=LEAD)).json()
    bound = {**decision, "seen_args_digest": shown["args_digest"]}
    decided = await api.post(f"/v1/instances/{iid}/decisions", json=bound, headers=LEAD)
    assert decided.status_code == 200, decided.text
    assert decided.json()["request"]["status"] == "APPROVED"

"""`POST /v1/decisions:batch` on the real stack: each request decided as if alone (its
digest, staleness, separation of duties, idempotency), every outcome listed, and a mixed
result never answered as a plain success."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from gantral.api.schemas import MAX_BATCH_DECISIONS
from tests.helpers.auth import AGENT, LEAD, bearer
from tests.helpers.publishing import publish_one_step

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

POLICY = "materiality: MEDIUM\nrequires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"


async def pending(
    api: httpx.AsyncClient, workflow: str, who: dict[str, str], n: int = 1
) -> tuple[str, dict[str, Any]]:
    """A new instance waiting on a human: (instance id, its request as shown)."""
    body = {"workflow_id": workflow, "owning_team_id": "payments"}
    resp = await api.post("/v1/instances", json=body, headers=who)
    assert resp.status_code == 201, resp.text
    iid = str(resp.json()["instance_id"])
    return iid, await ask(api, iid, who, n)


async def ask(api: httpx.AsyncClient, iid: str, who: dict[str, str], n: int) -> dict[str, Any]:
    resp = await api.post(
        f"/v1/instances/{iid}/steps/act/authorize",
        json={"action": "act", "arguments": {"n": n}},
        headers=who,
    )
    assert resp.json()["outcome"] == "PENDING", resp.text
    request: dict[str, Any] = resp.json()["request"]
    return request


def item(iid: str, request: dict[str, Any], digest: str | None = None) -> dict[str, str]:
    return {
        "instance_id": iid,
        "request_id": request["request_id"],
        "seen_args_digest": digest or request["args_digest"],
    }


async def batch(
    api: httpx.AsyncClient, who: dict[str, str], items: list[dict[str, str]], key: str
) -> httpx.Response:
    body = {"decision_type": "APPROVE", "items": items, "idempotency_key": key}
    return await api.post("/v1/decisions:batch", json=body, headers=who)


@pytest.fixture
async def workflow(api: httpx.AsyncClient) -> str:
    name = f"batch-{uuid.uuid4().hex[:8]}"
    await publish_one_step(api, name, POLICY)
    return name


async def test_a_stale_request_is_refused_alone_and_the_others_are_decided(
    api: httpx.AsyncClient, workflow: str
) -> None:
    (a, req_a), (b, req_b), (c, seen_c) = [await pending(api, workflow, AGENT) for _ in "abc"]
    # The agent asks again with other arguments after the human was shown c's request.
    changed = await ask(api, c, AGENT, 2)
    items = [item(a, req_a), item(c, changed, seen_c["args_digest"]), item(b, req_b)]
    key = f"k-{uuid.uuid4().hex}"
    resp = await batch(api, LEAD, items, key)

    assert resp.status_code == 207, resp.text  # not a plain 200: one was refused
    body = resp.json()
    assert (body["decided"], body["refused"]) == (2, 1)
    assert [(o["instance_id"], o["status"]) for o in body["items"]] == [
        (a, 200), (c, 409), (b, 200)
    ]  # fmt: skip
    stale = body["items"][1]
    assert stale["result"] is None and stale["error"]["reason"] == "stale", stale
    for outcome in (body["items"][0], body["items"][2]):
        assert outcome["error"] is None
        assert outcome["result"]["request"]["status"] == "APPROVED"
        assert outcome["result"]["decision"]["channel_ref"].startswith("batch:")
    # The stale request is still pending, exactly as a refused single decision leaves it.
    resp = await api.get(f"/v1/instances/{c}/requests/{changed['request_id']}", headers=LEAD)
    assert resp.json()["status"] == "PENDING"

    # The same batch again with the same key: the same outcomes, nothing decided twice.
    again = await batch(api, LEAD, items, key)
    assert again.status_code == 207
    assert [(o["status"], o["error"] and o["error"]["reason"]) for o in again.json()["items"]] == [
        (200, None), (409, "stale"), (200, None)
    ]  # fmt: skip
    first, repeat = body["items"][0]["result"], again.json()["items"][0]["result"]
    assert repeat["decision"]["decision_id"] == first["decision"]["decision_id"]

    # The key reused for another decision on the same request: refused for that item.
    body = {"decision_type": "REJECT", "items": items[:1], "idempotency_key": key,
            "justification": "changed my mind"}  # fmt: skip
    resp = await api.post("/v1/decisions:batch", json=body, headers=LEAD)
    assert resp.status_code == 207
    assert resp.json()["items"][0]["error"]["reason"] == "idempotency_key_reused", resp.text

    # A request already decided, sent in a new batch: already decided, for that item alone.
    resp = await batch(api, LEAD, [item(a, req_a)], f"k-{uuid.uuid4().hex}")
    assert resp.status_code == 207
    assert resp.json()["items"][0]["error"]["reason"] == "already_decided"


async def test_separation_of_duties_refuses_the_callers_own_request_only(
    api: httpx.AsyncClient, workflow: str
) -> None:
    requester = bearer("batch-op-lead", ["TECH_LEAD", "approver", "operator"])
    own, own_req = await pending(api, workflow, requester)
    other, other_req = await pending(api, workflow, AGENT)
    items = [item(own, own_req), item(other, other_req)]
    resp = await batch(api, requester, items, f"k-{uuid.uuid4().hex}")
    assert resp.status_code == 207, resp.text
    own_out, other_out = resp.json()["items"]
    assert own_out["status"] == 403, own_out
    assert own_out["error"]["reason"] == "separation_of_duties"
    assert other_out["status"] == 200 and other_out["result"]["request"]["status"] == "APPROVED"
    # Every item decided: a plain 200.
    _, third = await pending(api, workflow, AGENT)
    resp = await batch(api, LEAD, [item(_, third)], f"k-{uuid.uuid4().hex}")
    assert resp.status_code == 200 and resp.json()["refused"] == 0, resp.text


async def test_a_team_the_caller_may_not_read_is_unknown_for_that_item(
    api: httpx.AsyncClient, workflow: str
) -> None:
    iid, request = await pending(api, workflow, AGENT)
    outsider = bearer("batch-risk-lead", ["TECH_LEAD", "approver"], teams=["risk"])
    resp = await batch(api, outsider, [item(iid, request)], f"k-{uuid.uuid4().hex}")
    assert resp.status_code == 207
    assert resp.json()["items"][0]["error"]["reason"] == "unknown_instance"
    resp = await api.get(f"/v1/instances/{iid}/requests/{request['request_id']}", headers=LEAD)
    assert resp.json()["status"] == "PENDING"
    # An agent decides nothing, in a batch or alone: the whole batch is 403.
    resp = await batch(api, AGENT, [item(iid, request)], f"k-{uuid.uuid4().hex}")
    assert resp.status_code == 403, resp.text


async def test_duplicate_and_oversize_batches_decide_nothing(
    api: httpx.AsyncClient, workflow: str
) -> None:
    iid, request = await pending(api, workflow, AGENT)
    resp = await batch(api, LEAD, [item(iid, request)] * 2, f"k-{uuid.uuid4().hex}")
    assert resp.status_code == 409 and resp.json()["reason"] == "duplicate_in_batch", resp.text

    many = [
        {"instance_id": iid, "request_id": f"req_{i}", "seen_args_digest": "sha256:x"}
        for i in range(MAX_BATCH_DECISIONS)
    ]
    resp = await batch(api, LEAD, [item(iid, request), *many], f"k-{uuid.uuid4().hex}")
    assert resp.status_code == 422 and resp.json()["reason"] == "batch_too_large", resp.text
    assert resp.json()["details"]["limit"] == MAX_BATCH_DECISIONS

    resp = await api.get(f"/v1/instances/{iid}/requests/{request['request_id']}", headers=LEAD)
    assert resp.json()["status"] == "PENDING"  # neither batch decided anything

    # OVERRIDE edits one request's arguments: never in bulk.
    body = {"decision_type": "OVERRIDE", "items": [item(iid, request)], "idempotency_key": "k"}
    resp = await api.post("/v1/decisions:batch", json=body, headers=LEAD)
    assert resp.status_code == 422

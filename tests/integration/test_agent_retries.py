"""Every agent call is safe to retry (issue 21, item 8): when the server acted but its
answer was lost (the connection dropped), the same call again answers what the first
answered, records nothing new, and never a 409 `terminal` for a finish that succeeded."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import gantral_sdk as sdk
import httpx
import pytest

from tests.helpers.auth import LEAD, token
from tests.helpers.lifecycle import decide, sealed_audit

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

AGENT_TOKEN = token("retry-agent", agent=True)


class DropsAnswers(httpx.AsyncBaseTransport):
    """The server receives and acts on the call; its answer is lost on the way back (a
    reset connection), for the first `drops` calls whose path matches."""

    def __init__(self, inner: httpx.AsyncBaseTransport, matches: Callable[[str], bool]) -> None:
        self.inner, self.matches, self.drops = inner, matches, 1
        self.sent: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and self.matches(request.url.path):
            self.sent.append({"path": request.url.path, "body": request.content})
            if self.drops:
                self.drops -= 1
                await response.aread()
                raise httpx.RemoteProtocolError("peer closed connection", request=request)
        return response


def _client(api: httpx.AsyncClient, suffix: str) -> tuple[sdk.AsyncGantralClient, DropsAnswers]:
    drops = DropsAnswers(api._transport, lambda path: path.endswith(suffix))
    http = httpx.AsyncClient(transport=drops, base_url=str(api.base_url))
    return sdk.AsyncGantralClient(http=http, auth=sdk.BearerToken(AGENT_TOKEN)), drops


async def _instance(api: httpx.AsyncClient) -> str:
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    resp = await api.post("/v1/instances", json=body, headers=headers)
    return str(resp.json()["instance_id"])


@pytest.mark.parametrize("verb", ["complete", "fail", "cancel"])
async def test_a_finish_whose_answer_was_lost_answers_the_first_outcome(
    api: httpx.AsyncClient, verb: str
) -> None:
    iid = await _instance(api)
    client, drops = _client(api, f"/{verb}")
    async with client:
        view = await getattr(client, verb)(iid, reason=f"{verb} {uuid.uuid4().hex[:6]}")
    expected = "COMPLETED" if verb == "complete" else "TERMINATED"
    assert view.state == expected
    assert len(drops.sent) == 2 and drops.sent[0]["body"] == drops.sent[1]["body"]
    events = await sealed_audit(api, iid)
    assert [e["type"] for e in events].count("INSTANCE_ENDED") <= 1
    assert "VIOLATION" not in [e["type"] for e in events]


async def test_a_finish_repeated_without_its_key_answers_the_ended_instance(
    api: httpx.AsyncClient,
) -> None:
    """A caller that lost the answer and the key (a new SDK call, a client sending none)
    repeats the same finish: the ended instance (200), not 409 `terminal`. Another finish
    (other kind, other reason, other caller) is still refused."""
    iid = await _instance(api)
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    first = await api.post(
        f"/v1/instances/{iid}/complete", json={"reason": "done"}, headers=headers
    )
    assert first.status_code == 200, first.text
    async with sdk.AsyncGantralClient(http=api, auth=sdk.BearerToken(AGENT_TOKEN)) as client:
        again = await client.complete(iid, reason="done")  # a fresh key
    assert again.state == "COMPLETED"
    assert again == type(again).model_validate(first.json())  # what the first call answered
    keyless = await api.post(
        f"/v1/instances/{iid}/complete", json={"reason": "done"}, headers=headers
    )
    assert keyless.status_code == 200 and keyless.json() == first.json()
    for verb, body, who in [
        ("complete", {"reason": "other"}, headers),
        ("fail", {"reason": "done"}, headers),
        (
            "complete",
            {"reason": "done"},
            {"Authorization": f"Bearer {token('other-agent', agent=True)}"},
        ),
    ]:
        refused = await api.post(f"/v1/instances/{iid}/{verb}", json=body, headers=who)
        assert refused.status_code == 409 and refused.json()["reason"] in (
            "terminal",
            "not_running",
        )
    events = await sealed_audit(api, iid)
    assert [e["type"] for e in events].count("INSTANCE_ENDED") <= 1


async def test_step_reports_and_costs_whose_answers_were_lost_count_once(
    api: httpx.AsyncClient,
) -> None:
    headers = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    iid = await _instance(api)
    asked = await api.post(
        f"/v1/instances/{iid}/steps/deploy/authorize",
        json={"action": "deploy.run", "arguments": {"version": "1.4.2"}},
        headers=headers,
    )
    rid = asked.json()["request"]["request_id"]
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    outcome = await api.get(f"/v1/instances/{iid}/requests/{rid}?wait=10", headers=headers)
    grant = outcome.json()["grant"]
    client, drops = _client(api, "/events")
    async with client:
        started = await client.report(
            iid, "STEP_STARTED", step_id="deploy", grant_id=grant["grant_id"],
            args_digest=grant["args_digest"],
        )  # fmt: skip
        assert started.accepted and len(drops.sent) == 2  # resent once, same key
        drops.drops = 1
        cost = await client.report_cost(iid, tokens=7, money=0.25)
        assert cost.cost.tokens == 7 and cost.cost.money == 0.25
        # The caller's own retry of one call, with its own key: counted once too.
        for _ in range(2):
            mine = await client.report_cost(iid, tokens=3, idempotency_key="cost-once")
        assert mine.cost.tokens == 10
        drops.drops = 1
        done = await client.report(iid, "STEP_COMPLETED", step_id="deploy")
        assert done.accepted
        view = await client.complete(iid, reason="shipped")
    assert view.state == "COMPLETED" and view.cost.tokens == 10
    types = [e["type"] for e in await sealed_audit(api, iid)]
    assert "VIOLATION" not in types
    assert types.count("AGENT_EVENT") == 2 and types.count("COST_REPORTED") == 2

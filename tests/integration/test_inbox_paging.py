"""The approver inbox at scale, on the real stack: served from the request read model,
paged by key in urgency order across every open request (more than one old 200-candidate
window), scoped by team, role and separation of duties, and a decision leaves it within
a second."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

import gantral_sdk as sdk
import httpx
import pytest

from tests.helpers.auth import ADMIN, bearer
from tests.helpers.inbox_pages import every_page
from tests.helpers.integrations_support import whole_inbox
from tests.helpers.publishing import publish_one_step
from tests.helpers.waiting import approval_policy, open_request

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# Teams of their own: the other inbox tests' approvers never page through these.
TEAM, OTHER = "inbox-pages", "inbox-pages-risk"
OWNER = "page-owner"
AGENT = bearer("page-agent", teams=[TEAM], agent=True, owner=OWNER)
RISK_AGENT = bearer("page-risk-agent", teams=[OTHER], agent=True)
LEAD = bearer("page-lead", ["TECH_LEAD", "approver"], teams=[TEAM])
OWNER_LEAD = bearer(OWNER, ["TECH_LEAD", "approver"], teams=[TEAM])
SEC = bearer("page-sec", ["SECURITY_REVIEWER", "approver"], teams=[TEAM])
RISK_LEAD = bearer("page-risk-lead", ["TECH_LEAD", "approver"], teams=[OTHER])
# Without a deadline, then with deadlines (hours): 260 requests the lead may decide.
PLAIN, TIMED, RISK, SECURITY = 230, (3, 1, 2), 15, 10


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_every_open_request_is_reachable_in_urgency_order(api: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:6]
    await publish_one_step(api, f"page-plain-{tag}", approval_policy("LOW", None))
    for hours in TIMED:
        await publish_one_step(api, f"page-{hours}h-{tag}", approval_policy("LOW", f"{hours}h"))
    await publish_one_step(
        api, f"page-sec-{tag}", approval_policy("LOW", None, "SECURITY_REVIEWER")
    )
    gate = asyncio.Semaphore(12)
    timed = {
        hours: await open_request(api, f"page-{hours}h-{tag}", TEAM, AGENT, gate) for hours in TIMED
    }
    plain = await asyncio.gather(
        *(open_request(api, f"page-plain-{tag}", TEAM, AGENT, gate) for _ in range(PLAIN))
    )
    risk = set(
        await asyncio.gather(
            *(open_request(api, f"page-plain-{tag}", OTHER, RISK_AGENT, gate) for _ in range(RISK))
        )
    )
    sec = set(
        await asyncio.gather(
            *(open_request(api, f"page-sec-{tag}", TEAM, AGENT, gate) for _ in range(SECURITY))
        )
    )
    lead = set(plain) | set(timed.values())

    items, pages = await every_page(api, LEAD, 40, pending_for="me")
    ids = [i["instance_id"] for i in items]
    assert len(ids) == len(set(ids)), "a request listed on two pages"
    assert lead <= set(ids), f"{len(lead - set(ids))} open requests unreachable"
    assert not (risk | sec) & set(ids)  # another team's; a role the lead does not hold
    assert pages >= len(lead) // 40
    # The SDK pages the same way: `next_page_token` back as `page_token`.
    lead_token = sdk.BearerToken(LEAD["Authorization"].removeprefix("Bearer "))
    async with sdk.AsyncGantralClient(http=api, auth=lead_token) as lead_sdk:
        listed = [i.instance_id for i in await whole_inbox(lead_sdk, limit=40)]
    assert listed == ids
    # Urgency: every request with a deadline (the earliest first) before those without;
    # then the oldest first.
    keys = [
        (i["deadline"] is None, at(i["deadline"] or i["created_at"]), at(i["created_at"]))
        for i in items
    ]
    assert keys == sorted(keys)
    mine = [i["instance_id"] for i in items if i["instance_id"] in lead]
    assert mine[:3] == [timed[1], timed[2], timed[3]]
    assert set(mine[3:]) == set(plain)
    item = next(i for i in items if i["instance_id"] == timed[1])
    assert item["decidable_as"] == ["TECH_LEAD"] and item["owning_team_id"] == TEAM
    assert item["quorum"].startswith("0 of 1") and item["arguments"] == {"n": 1}

    # Team and role: the risk lead sees the risk team's, the reviewer only theirs.
    risk_items, _ = await every_page(api, RISK_LEAD, 7, pending_for="me")
    assert risk <= {i["instance_id"] for i in risk_items}
    assert not lead & {i["instance_id"] for i in risk_items}
    sec_items, _ = await every_page(api, SEC, 100, pending_for="me")
    assert sec <= {i["instance_id"] for i in sec_items}
    assert not (lead | risk) & {i["instance_id"] for i in sec_items}
    # Separation of duties: the agent's owner never has their agent's requests to decide.
    owned, _ = await every_page(api, OWNER_LEAD, 200, pending_for="me")
    assert not (lead | sec) & {i["instance_id"] for i in owned}
    # Everything open, to an admin: every one of them, too.
    everything, _ = await every_page(api, ADMIN, 150)
    assert lead | risk | sec <= {i["instance_id"] for i in everything}

    # A decision leaves the inbox within a second of its answer.
    body = {
        "request_id": item["request_id"], "seen_args_digest": item["args_digest"],
        "decision_type": "APPROVE", "idempotency_key": f"k-{tag}",
    }  # fmt: skip
    resp = await api.post(f"/v1/instances/{timed[1]}/decisions", json=body, headers=LEAD)
    assert resp.status_code == 200, resp.text
    decided = time.monotonic()
    while True:
        resp = await api.get("/v1/requests", params={"pending_for": "me"}, headers=LEAD)
        assert resp.status_code == 200
        if timed[1] not in {i["instance_id"] for i in resp.json()["items"]}:
            break
        assert time.monotonic() - decided < 1.0, "a decided request stayed in the inbox"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("token", ["nonsense", "e30", "W251bGwsIDEsIDJd", "%%%"])
async def test_a_bad_page_token_is_refused(api: httpx.AsyncClient, token: str) -> None:
    resp = await api.get(
        "/v1/requests", params={"pending_for": "me", "page_token": token}, headers=LEAD
    )
    assert resp.status_code == 404, resp.text
    assert resp.json()["reason"] == "bad_page_token"
    assert "page_token" in resp.json()["message"]

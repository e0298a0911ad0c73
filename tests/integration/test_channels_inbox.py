"""The approver inbox `GET /v1/requests?pending_for=me` on the real stack: ordered by
urgency, scoped by team and role, separation of duties honoured, backed by visibility."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.helpers.auth import ADMIN, bearer
from tests.helpers.inbox_pages import every_page
from tests.helpers.publishing import publish_one_step
from tests.helpers.waiting import approval_policy, open_request

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

AGENT = bearer("inbox-agent", agent=True)
RISK_AGENT = bearer("inbox-risk-agent", teams=["risk"], agent=True)
LEAD = bearer("inbox-lead", ["TECH_LEAD", "approver"])
SEC = bearer("inbox-sec", ["SECURITY_REVIEWER", "approver"])
RISK_LEAD = bearer("inbox-risk-lead", ["TECH_LEAD", "approver"], teams=["risk"])


async def inbox(
    api: httpx.AsyncClient,
    who: dict[str, str],
    expect: set[str],
    among: frozenset[str] = frozenset(),
    **params: Any,
) -> list[dict[str, Any]]:
    """The caller's inbox restricted to `expect` and `among`, once visibility shows all of
    `expect`. `among`: requests that are not the caller's to decide, listed too if they
    were (waiting for one that must never come would only burn the whole wait)."""
    items: list[dict[str, Any]] = []
    for _ in range(100):
        listed, _ = await every_page(api, who, 200, pending_for="me", **params)
        items = [i for i in listed if i["instance_id"] in expect | among]
        if expect <= {i["instance_id"] for i in items}:
            return items
        await asyncio.sleep(0.1)
    return items


async def test_inbox_ordered_by_urgency_and_scoped_by_team_and_role(
    api: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:6]
    flows = {
        "late": ("HIGH", "4h"),
        "soon": ("LOW", "30m"),
        "none_crit": ("CRITICAL", None),
        "none_low": ("LOW", None),
    }
    for name, (materiality, timeout) in flows.items():
        await publish_one_step(api, f"inbox-{name}-{tag}", approval_policy(materiality, timeout))
    await publish_one_step(
        api, f"inbox-sec-{tag}", approval_policy("HIGH", "1h", "SECURITY_REVIEWER")
    )
    ids = {
        name: await open_request(api, f"inbox-{name}-{tag}", "payments", AGENT) for name in flows
    }
    sec = await open_request(api, f"inbox-sec-{tag}", "payments", AGENT)
    risk = await open_request(api, f"inbox-late-{tag}", "risk", RISK_AGENT)

    # Most urgent first: the earliest deadline, then the most material of those without one.
    others = frozenset({sec, risk})  # not the lead's: another role's, another team's
    mine = await inbox(api, LEAD, set(ids.values()), others)
    assert [i["instance_id"] for i in mine] == [
        ids["soon"], ids["late"], ids["none_crit"], ids["none_low"]
    ]  # fmt: skip
    first = mine[0]
    assert first["decidable_as"] == ["TECH_LEAD"] and first["owning_team_id"] == "payments"
    assert first["materiality"] == "LOW" and first["deadline"] is not None
    assert first["quorum"].startswith("0 of 1") and first["args_digest"]

    # Another role sees only what needs it; another team only its own team's request.
    soon = frozenset({ids["soon"]})
    assert [i["instance_id"] for i in await inbox(api, SEC, {sec}, soon)] == [sec]
    assert [i["instance_id"] for i in await inbox(api, RISK_LEAD, {risk}, soon)] == [risk]
    # Now listed to whom they are for, they are still not the lead's.
    again = await inbox(api, LEAD, set(ids.values()), others)
    assert not others & {i["instance_id"] for i in again}

    # Decided requests leave the inbox.
    req = first["request_id"]
    # Decided on the item as listed: its request and the digest the approver saw.
    body = {
        "request_id": req, "seen_args_digest": first["args_digest"], "decision_type": "APPROVE",
        "idempotency_key": f"k-{tag}",
    }  # fmt: skip
    resp = await api.post(f"/v1/instances/{ids['soon']}/decisions", json=body, headers=LEAD)
    assert resp.status_code == 200, resp.text
    for _ in range(100):
        left = await inbox(api, LEAD, {ids["late"]})
        listed, _ = await every_page(api, LEAD, 200, pending_for="me")
        if ids["soon"] not in {i["instance_id"] for i in listed}:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("a decided request stayed in the inbox")
    assert left


async def test_inbox_refuses_what_the_caller_may_not_see(api: httpx.AsyncClient) -> None:
    # Agents never decide; a team the caller is not in is 403; a bad filter is 422.
    assert (await api.get("/v1/requests?pending_for=me", headers=AGENT)).status_code == 403
    resp = await api.get("/v1/requests?pending_for=me&team=risk", headers=LEAD)
    assert resp.status_code == 403 and resp.json()["error"] == "forbidden"
    resp = await api.get("/v1/requests?pending_for=you", headers=LEAD)
    assert resp.status_code == 422
    # Without pending_for: everything open the caller may read (an admin reads all teams).
    assert (await api.get("/v1/requests", headers=ADMIN)).status_code == 200


async def test_separation_of_duties_keeps_the_requester_out_of_their_own_inbox(
    api: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:6]
    await publish_one_step(api, f"inbox-sod-{tag}", approval_policy("HIGH", "1h"))
    requester = bearer("inbox-op-lead", ["TECH_LEAD", "approver", "operator"])
    iid = await open_request(api, f"inbox-sod-{tag}", "payments", requester)
    assert [i["instance_id"] for i in await inbox(api, LEAD, {iid})] == [iid]
    resp = await api.get("/v1/requests", params={"pending_for": "me"}, headers=requester)
    assert iid not in {i["instance_id"] for i in resp.json()["items"]}

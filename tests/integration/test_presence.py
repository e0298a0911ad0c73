"""Out of office on the real stack (issue 24): with a role directory, a request that no
present human can decide escalates at once instead of waiting out its tier. Here the
only TECH_LEAD of a team delegates to the requester, whom separation of duties keeps from
the request: nobody present can decide it, and it is ESCALATED well before the tier's
hour. With a second lead present, nothing changes; an escalate-now fact the API did not
attest is dropped; with no tier after the first, the timeout alone applies. A delegation
whose window starts later is watched by the presence clock: at its start the request is
escalated without anyone asking again, also by an API started after it was stored. A
delegator whose deputy approved for them, back since, is still counted: the sweep finds
the request's other role with nobody present and escalates it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from temporalio.client import Client

from gantral.api.app import create_app
from gantral.core import GantralCore
from gantral.errors import InvalidInput
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.workflows.messages import EscalateNow
from tests.helpers.auth import AUDITOR, bearer
from tests.helpers.governance import put
from tests.helpers.lifecycle import decide
from tests.helpers.replaying import replay_instance

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

TIERED = """
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
tiers:
  - {name: leads, timeout: 1h}
  - {name: managers, approvers: {role: SRE_MANAGER}, timeout: 1h}
"""
TWO_ROLES = """
requires_human_approval: true
approvers: [{role: TECH_LEAD}, {role: SECURITY_REVIEWER}]
tiers:
  - {name: leads, timeout: 1h}
  - {name: managers, approvers: {role: SRE_MANAGER}, timeout: 1h}
"""
ONE_TIER = (
    "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\ntimeouts: {primary: 1h}\n"
)

# Each test's team, listed in the directory the API below starts with.
ALONE, PAIR, FORGED, LAST, LATER, STARTS, KEPT, STORED, BACK = (
    f"pr-{uuid.uuid4().hex[:8]}" for _ in range(9)
)
# Teams with two leads, the others have one.
TWO_LEADS = (PAIR, KEPT)


def _people(team: str, who: str) -> str:
    return f"{who}-{team}"


@dataclass
class Deployed:
    client: httpx.AsyncClient
    app: FastAPI
    settings: Settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def present(
    settings: Settings,
    temporal: Client,
    workers: None,
    audit_config: AuditSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Deployed]:
    """An API of its own with a role directory, on the session's workers and databases."""
    path = tmp_path_factory.mktemp("presence") / "roles.yaml"
    lines = []
    for team in (ALONE, PAIR, FORGED, LAST, LATER, STARTS, KEPT, STORED, BACK):
        leads = [_people(team, "lee")] + ([_people(team, "kim")] if team in TWO_LEADS else [])
        lines.append(f"{team}:\n  TECH_LEAD: [{', '.join(leads)}]\n")
    # BACK: lee also reviews, beside sam.
    reviewers = ", ".join(_people(BACK, who) for who in ("lee", "sam"))
    lines.append(f"  SECURITY_REVIEWER: [{reviewers}]\n")
    path.write_text("".join(lines))
    # The periodic sweep as rare as allowed: what the clock does here, a window's start did.
    delegations = settings.delegations.model_copy(
        update={"role_directory": path, "presence_sweep_seconds": 3600}
    )
    own = settings.model_copy(update={"delegations": delegations})
    app = create_app(own, temporal, audit_config=audit_config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gantral") as client:
            yield Deployed(client, app, own)


def human(team: str, who: str, *roles: str) -> dict[str, str]:
    return bearer(_people(team, who), ["approver", *roles], teams=[team])


async def workflow(api: httpx.AsyncClient, policy: str) -> str:
    pid, wid = f"pol-{uuid.uuid4().hex[:8]}", f"wf-{uuid.uuid4().hex[:8]}"
    await put(api, f"/v1/policies/{pid}", policy)
    await put(
        api,
        f"/v1/workflows/{wid}",
        f"id: {wid}\nsteps:\n  - id: act\n    policy_ref: {{id: {pid}}}\n",
    )
    return wid


async def ask(api: httpx.AsyncClient, wid: str, team: str) -> tuple[str, dict[str, Any]]:
    """rita drives an instance by hand, so she is its requester: (instance id, request)."""
    rita = human(team, "rita", "operator")
    body = {"workflow_id": wid, "owning_team_id": team}
    started = await api.post("/v1/instances", json=body, headers=rita)
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    asked = await api.post(
        f"/v1/instances/{iid}/steps/act/authorize",
        json={"action": "pay", "arguments": {"amount": 5}},
        headers=rita,
    )
    assert asked.json()["outcome"] == "PENDING", asked.text
    return iid, asked.json()["request"]


async def away(
    api: httpx.AsyncClient, team: str, who: str, deputy: str, starts_at: datetime | None = None
) -> dict[str, Any]:
    ends = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
    body = {"deputy": deputy, "ends_at": ends, "reason": "out of office"}
    if starts_at is not None:
        body["starts_at"] = starts_at.isoformat()
    given = await api.put("/v1/delegations/me", json=body, headers=human(team, who, "TECH_LEAD"))
    assert given.status_code == 200, given.text
    return dict(given.json())


async def escalations(api: httpx.AsyncClient, iid: str) -> list[dict[str, Any]]:
    trail = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
    if trail.status_code != 200:
        return []
    return [e for e in trail.json()["events"] if e["type"] == "ESCALATED"]


async def escalated(api: httpx.AsyncClient, iid: str, wait: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = await escalations(api, iid)
        if found:
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"{iid} was not escalated within {wait} s")


async def tier_of(api: httpx.AsyncClient, iid: str, rid: str, team: str) -> dict[str, Any]:
    got = await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=human(team, "lee"))
    assert got.status_code == 200, got.text
    return dict(got.json())


async def listed(api: httpx.AsyncClient, team: str, rid: str, wait: float = 20) -> None:
    """Until the request read model (written by the sink) lists the request."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        page = await api.get(
            "/v1/requests", params={"pending_for": "me"}, headers=human(team, "lee", "TECH_LEAD")
        )
        if rid in {i["request_id"] for i in page.json()["items"]}:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{rid} never listed")


async def test_the_only_lead_away_to_the_requester_escalates_at_once(
    present: Deployed, temporal: Client, settings: Settings
) -> None:
    api = present.client
    wid = await workflow(api, TIERED)
    # lee, the team's only TECH_LEAD, is away; his deputy is rita, who will be the requester.
    await away(api, ALONE, "lee", _people(ALONE, "rita"))
    began = datetime.now(UTC)
    iid, request = await ask(api, wid, ALONE)
    event = await escalated(api, iid)
    assert event["payload"]["tier"] == 1
    assert event["payload"]["approvers"] == ["SRE_MANAGER"]
    assert event["payload"]["cause"] == "no present human can decide TECH_LEAD"
    assert event["actor"]["kind"] == "system"
    # Well before the tier's hour: the next tier's own hour starts now.
    assert datetime.fromisoformat(event["at"]) - began < timedelta(minutes=1)
    now = await tier_of(api, iid, request["request_id"], ALONE)
    assert (now["status"], now["tier"], now["required_approvers"]) == (
        "PENDING",
        1,
        ["SRE_MANAGER"],
    )
    assert datetime.fromisoformat(now["deadline"]) - began > timedelta(minutes=59)
    verified = await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)
    assert verified.status_code == 200 and verified.json()["ok"], verified.text
    # The fact is in the instance's history: a replay reproduces the early escalation.
    await replay_instance(temporal, settings, iid)


async def test_a_present_lead_keeps_the_tier_and_a_delegation_set_later_escalates(
    present: Deployed,
) -> None:
    api = present.client
    wid = await workflow(api, TIERED)
    iid, request = await ask(api, wid, PAIR)
    rid = request["request_id"]
    # lee goes away to the requester; kim, the other lead, is present: nothing changes.
    await listed(api, PAIR, rid)
    await away(api, PAIR, "lee", _people(PAIR, "rita"))
    # ... nor when rita asks again (the same request, looked at again).
    again = await api.post(
        f"/v1/instances/{iid}/steps/act/authorize",
        json={"action": "pay", "arguments": {"amount": 5}},
        headers=human(PAIR, "rita", "operator"),
    )
    assert again.json()["outcome"] == "PENDING", again.text
    await asyncio.sleep(3)
    assert await escalations(api, iid) == []
    assert (await tier_of(api, iid, rid, PAIR))["tier"] == 0
    # kim goes away too, to lee, who is away himself: refused. To rita: the last present
    # lead is gone, and setting the delegation escalates the open request at once.
    kim = human(PAIR, "kim", "TECH_LEAD")
    ends = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
    refused = await api.put(
        "/v1/delegations/me", json={"deputy": _people(PAIR, "lee"), "ends_at": ends}, headers=kim
    )
    assert refused.status_code == 409 and refused.json()["reason"] == "deputy_away"
    await away(api, PAIR, "kim", _people(PAIR, "rita"))
    event = await escalated(api, iid)
    assert (event["payload"]["tier"], event["payload"]["cause"]) == (
        1,
        "no present human can decide TECH_LEAD",
    )


async def test_a_delegation_to_a_deputy_who_may_decide_keeps_the_tier(present: Deployed) -> None:
    api = present.client
    wid = await workflow(api, TIERED)
    await away(api, LATER, "lee", _people(LATER, "dana"))  # dana may decide for lee
    iid, request = await ask(api, wid, LATER)
    await asyncio.sleep(3)
    assert await escalations(api, iid) == []
    assert (await tier_of(api, iid, request["request_id"], LATER))["tier"] == 0


async def test_an_unattested_escalate_now_fact_is_dropped(
    present: Deployed, temporal: Client
) -> None:
    api = present.client
    wid = await workflow(api, TIERED)
    iid, request = await ask(api, wid, FORGED)  # lee is present: no escalation of its own
    rid = request["request_id"]
    forged = EscalateNow(request_id=rid, tier=0, roles=["TECH_LEAD"])
    await temporal.get_workflow_handle(iid).signal("escalate_now", forged)
    await asyncio.sleep(3)
    assert await escalations(api, iid) == []
    assert (await tier_of(api, iid, rid, FORGED))["tier"] == 0
    # The same fact, attested by the API, is taken; sent twice at once (two replicas'
    # sweeps), it escalates the tier once.
    core: GantralCore = present.app.state.core
    await asyncio.gather(*(core.escalate_now(iid, rid, 0, ["TECH_LEAD"]) for _ in range(2)))
    assert (await escalated(api, iid))["payload"]["tier"] == 1
    # A stale one (for tier 0, now over) changes nothing more.
    await core.escalate_now(iid, rid, 0, ["TECH_LEAD"])
    await asyncio.sleep(2)
    assert len(await escalations(api, iid)) == 1


async def test_with_no_next_tier_the_timeout_alone_applies(
    present: Deployed, temporal: Client
) -> None:
    api = present.client
    wid = await workflow(api, ONE_TIER)
    await away(api, LAST, "lee", _people(LAST, "rita"))
    iid, request = await ask(api, wid, LAST)
    await listed(api, LAST, request["request_id"])
    # Sweeps find it undecidable each time; this API sends its fact for the tier once.
    for _ in range(3):
        await present.app.state.presence.sweep()
    await asyncio.sleep(3)
    assert await escalations(api, iid) == []
    now = await tier_of(api, iid, request["request_id"], LAST)
    assert (now["status"], now["tier"]) == ("PENDING", 0)
    history = await temporal.get_workflow_handle(iid).fetch_history()
    facts = [
        e
        for e in history.events
        if e.workflow_execution_signaled_event_attributes.signal_name == "escalate_now"
    ]
    assert len(facts) == 2  # the one `authorize` sent, and the sweeps' one


async def test_a_malformed_directory_stops_the_api(
    settings: Settings, temporal: Client, audit_config: AuditSettings, tmp_path: Path
) -> None:
    bad = tmp_path / "roles.yaml"
    bad.write_text("payments: [lee]\n")
    own = settings.model_copy(
        update={"delegations": settings.delegations.model_copy(update={"role_directory": bad})}
    )
    app = create_app(own, temporal, audit_config=audit_config)
    with pytest.raises(InvalidInput, match="role directory") as caught:
        async with app.router.lifespan_context(app):
            pass
    assert caught.value.reason == "invalid_role_directory"


async def test_a_window_starting_later_escalates_at_its_start_without_a_call(
    present: Deployed,
) -> None:
    api = present.client
    wid = await workflow(api, TIERED)
    # STARTS: lee is the only lead; KEPT: kim stays present beside lee.
    asked = {team: await ask(api, wid, team) for team in (STARTS, KEPT)}
    for team, (_, request) in asked.items():
        await listed(api, team, request["request_id"])
    # Both leads named lee go away in 2 s, to rita, the requester: nobody asks again.
    starts = datetime.now(UTC) + timedelta(seconds=2)
    for team in (STARTS, KEPT):
        await away(api, team, "lee", _people(team, "rita"), starts_at=starts)
    alone, kept = asked[STARTS][0], asked[KEPT][0]
    assert await escalations(api, alone) == []  # not before the window starts
    event = await escalated(api, alone, wait=20)
    assert (event["payload"]["tier"], event["payload"]["cause"]) == (
        1,
        "no present human can decide TECH_LEAD",
    )
    assert datetime.fromisoformat(event["at"]) >= starts
    # The same pass looked at KEPT's request: kim may decide it, so its tier holds.
    assert present.app.state.presence_clock.passes >= 2
    assert await escalations(api, kept) == []
    assert (await tier_of(api, kept, asked[KEPT][1]["request_id"], KEPT))["tier"] == 0


async def test_a_window_stored_before_the_api_started_is_watched_from_the_store(
    present: Deployed,
    api: httpx.AsyncClient,
    temporal: Client,
    audit_config: AuditSettings,
) -> None:
    wid = await workflow(present.client, TIERED)
    iid, request = await ask(present.client, wid, STORED)
    await listed(present.client, STORED, request["request_id"])
    # Set through an API without the directory (another replica, before a restart):
    # nothing in this process was told of it.
    starts = datetime.now(UTC) + timedelta(seconds=2)
    await away(api, STORED, "lee", _people(STORED, "rita"), starts_at=starts)
    restarted = create_app(present.settings, temporal, audit_config=audit_config)
    async with restarted.router.lifespan_context(restarted):
        event = await escalated(present.client, iid, wait=20)
    assert event["payload"]["cause"] == "no present human can decide TECH_LEAD"
    assert datetime.fromisoformat(event["at"]) >= starts


async def test_a_delegator_back_after_their_deputy_approved_still_counted_by_the_sweep(
    present: Deployed,
) -> None:
    api = present.client
    wid = await workflow(api, TWO_ROLES)
    lee_id, lee = _people(BACK, "lee"), human(BACK, "lee", "TECH_LEAD", "SECURITY_REVIEWER")
    sam = human(BACK, "sam", "SECURITY_REVIEWER")
    ends = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
    for who, deputy in ((sam, "rita"), (lee, "dana")):  # sam's deputy will be the requester
        body = {"deputy": _people(BACK, deputy), "ends_at": ends}
        given = await api.put("/v1/delegations/me", json=body, headers=who)
        assert given.status_code == 200, given.text
    # dana may decide for lee: the request keeps its tier.
    iid, request = await ask(api, wid, BACK)
    rid = request["request_id"]
    approved = await decide(
        api, iid, rid, "APPROVE", human(BACK, "dana"), on_behalf_of=lee_id, role="TECH_LEAD"
    )
    assert approved.status_code == 200, approved.text
    # lee comes back (nothing looks at a return). SECURITY_REVIEWER is still needed: lee
    # counted already, and sam is away to rita, whom separation of duties keeps out.
    assert (await api.delete("/v1/delegations/me", headers=lee)).status_code == 200
    reader = present.app.state.presence.reader
    deadline = time.monotonic() + 20
    while True:  # until the sink's read model holds the approval
        rows = await reader.pending(teams=[BACK], roles=None, actor_id=None, after=None, limit=5)
        row = next((r for r in rows if r.request_id == rid), None)
        if row is not None and row.still_needed == ["SECURITY_REVIEWER"]:
            break
        assert time.monotonic() < deadline, "the approval never reached the read model"
        await asyncio.sleep(0.2)
    # Both names counted: lee's inbox no longer lists it either.
    assert sorted(row.approved_by) == sorted([_people(BACK, "dana"), lee_id])
    for_lee = await reader.pending(teams=[BACK], roles=None, actor_id=lee_id, after=None, limit=5)
    assert rid not in {r.request_id for r in for_lee}
    assert await escalations(api, iid) == []
    assert await present.app.state.presence.sweep() == 1
    event = await escalated(api, iid)
    assert (event["payload"]["tier"], event["payload"]["cause"]) == (
        1,
        "no present human can decide SECURITY_REVIEWER",
    )

"""Halts freeze pending requests' deadlines on the real stack (issue 24): while a halt holds
over an instance, its pending request never expires; after the lift it has the time it
had left. The API delivers the halt to running instances as an attested Signal; the
workflow's timers pause and resume, and both are audited."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client

from gantral.attestation import Attestor
from gantral.governance.halts import HaltScope
from gantral.settings import Settings
from gantral.workflows.messages import HaltNotice
from tests.helpers.auth import ADMIN, AUDITOR, bearer
from tests.helpers.halting import Team, authorize, raise_halt, start, step_started, workflow
from tests.helpers.replaying import replay_instance

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

TIMEOUT = 4  # seconds: the request's deadline
EXPIRING = (
    "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
    f"tiers:\n  - {{name: leads, timeout: {TIMEOUT}s}}\non_timeout: EXPIRE\n"
)


async def events(
    api: httpx.AsyncClient, iid: str, kind: str, count: int = 1
) -> list[dict[str, Any]]:
    """The instance's stored audit events of `kind`, once there are `count` of them."""
    found: list[dict[str, Any]] = []
    for _ in range(150):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200:
            found = [e for e in resp.json()["events"] if e["type"] == kind]
            if len(found) >= count:
                return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} {kind} event(s) not stored for {iid}: {found}")


async def status(api: httpx.AsyncClient, iid: str, rid: str, team: Team) -> str:
    resp = await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=team.lead)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["status"])


async def deadline_of(api: httpx.AsyncClient, iid: str, team: Team) -> datetime:
    for _ in range(100):
        view = (await api.get(f"/v1/instances/{iid}", headers=team.lead)).json()
        if (view.get("pending_request") or {}).get("deadline"):
            return datetime.fromisoformat(view["pending_request"]["deadline"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"{iid}'s pending request got no deadline")


async def lift(api: httpx.AsyncClient, halt_id: str) -> None:
    resp = await api.post(f"/v1/halts/{halt_id}:lift", json={"reason": "fixed"}, headers=ADMIN)
    assert resp.status_code == 200, resp.text


async def test_a_halt_freezes_a_pending_deadline_which_resumes_with_the_time_left(
    api: httpx.AsyncClient, temporal: Client, settings: Settings
) -> None:
    team = Team()
    wid = await workflow(api, EXPIRING)
    iid = (await start(api, wid, team)).json()["instance_id"]
    pending = (await authorize(api, iid, team)).json()
    assert pending["outcome"] == "PENDING", pending
    rid = pending["request"]["request_id"]
    deadline = await deadline_of(api, iid, team)  # set once the instance supervises it
    # Hostile: a halt notice sent around the API (no attestation) is dropped.
    forged = HaltNotice(halt_id="halt_forged", scope=HaltScope(team=team.name))
    await temporal.get_workflow_handle(iid).signal("halt", forged)
    # Signed, but not by the API: dropped too.
    elsewhere = HaltNotice(halt_id="halt_signed_elsewhere", scope=HaltScope(team=team.name))
    elsewhere.attestation = Attestor(Ed25519PrivateKey.generate()).attest("halt", iid, elsewhere)
    await temporal.get_workflow_handle(iid).signal("halt", elsewhere)
    await asyncio.sleep(1)

    raised = await raise_halt(api, {"team": team.name}, team.operator)
    assert raised.status_code == 201, raised.text
    halt_id = raised.json()["halt_id"]
    frozen = (await events(api, iid, "DEADLINE_FROZEN"))[0]["payload"]
    assert (frozen["request_id"], frozen["halt_ids"]) == (rid, [halt_id])
    assert 0 < frozen["remaining_seconds"] < TIMEOUT
    left = frozen["remaining_seconds"]

    # Well past the original deadline: still pending, nothing expired.
    await asyncio.sleep(TIMEOUT + 1)
    assert await status(api, iid, rid, team) == "PENDING"

    lifted_at = time.monotonic()
    await lift(api, halt_id)
    resumed = (await events(api, iid, "DEADLINE_RESUMED"))[0]["payload"]
    assert resumed["request_id"] == rid and resumed["halt_ids"] == [halt_id]
    assert resumed["frozen_seconds"] >= TIMEOUT
    assert abs(resumed["remaining_seconds"] - left) < 0.5, (resumed, left)
    moved = datetime.fromisoformat(resumed["deadline"])
    assert (moved - deadline).total_seconds() >= TIMEOUT
    view = (await api.get(f"/v1/instances/{iid}", headers=team.lead)).json()
    assert datetime.fromisoformat(view["pending_request"]["deadline"]) == moved

    # It expires, but only once the time it had left has run out after the lift.
    while await status(api, iid, rid, team) == "PENDING":
        assert time.monotonic() - lifted_at < left + 15, "never expired after the lift"
        await asyncio.sleep(0.1)
    assert time.monotonic() - lifted_at >= left - 0.5
    assert await status(api, iid, rid, team) == "EXPIRED"
    kinds = [e["type"] for e in await events(api, iid, "TIMED_OUT")]
    assert kinds == ["TIMED_OUT"]
    trail = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()["events"]
    order = [e["type"] for e in trail]
    assert (
        order.index("DEADLINE_FROZEN") < order.index("DEADLINE_RESUMED") < order.index("TIMED_OUT")
    )
    # The forged notices, dropped when first run, stay dropped on replay: the history
    # replays to the same commands (it did not, when replay skipped every check, nor
    # for the one signed elsewhere, when replay checked only that it was signed).
    await replay_instance(temporal, settings, iid)


async def test_a_halt_raised_while_calls_are_in_flight_leaves_no_way_through(
    api: httpx.AsyncClient,
) -> None:
    """Hostile: a halt raised while an agent's authorize (to be PENDING) and a step start
    with a grant are in flight. Whatever wins each race, no step starts under the halt and
    no request expires because of it."""
    team = Team()
    allow = await workflow(api, "requires_human_approval: false\n")
    ask = await workflow(api, EXPIRING)
    granted_iid = (await start(api, allow, team)).json()["instance_id"]
    grant = (await authorize(api, granted_iid, team)).json()["grant"]
    asking_iid = (await start(api, ask, team)).json()["instance_id"]

    asked, started, raised = await asyncio.gather(
        authorize(api, asking_iid, team),
        step_started(api, granted_iid, grant, team),
        raise_halt(api, {"team": team.name}, team.operator),
    )
    assert raised.status_code == 201, raised.text
    halt_id = raised.json()["halt_id"]
    try:
        # The step start either came first (200) or was refused: never after the halt.
        if started.status_code != 200:
            assert started.json()["reason"] == "halted", started.text
            again = await step_started(api, granted_iid, grant, team)
            assert again.status_code == 409 and again.json()["reason"] == "halted"
        if asked.status_code == 409:
            assert asked.json()["reason"] == "halted", asked.text
            return
        assert asked.json()["outcome"] == "PENDING", asked.text
        rid = asked.json()["request"]["request_id"]
        # The request that raced the halt is frozen too (once its workflow learns of it).
        await events(api, asking_iid, "DEADLINE_FROZEN")
        await asyncio.sleep(TIMEOUT + 1)
        assert await status(api, asking_iid, rid, team) == "PENDING"
    finally:
        await lift(api, halt_id)


async def test_an_exemption_resumes_the_deadlines_it_frees_and_no_others(
    api: httpx.AsyncClient,
) -> None:
    """Staged recovery: exempting one agent from a team's halt runs its pending request's
    deadline again, with the time it had left, while the rest of the team stays frozen."""
    team = Team()
    other_agent = bearer(f"bot2-{team.name}", teams=[team.name], agent=True)
    wid = await workflow(api, EXPIRING)
    freed = (await start(api, wid, team)).json()["instance_id"]
    body = {"workflow_id": wid, "owning_team_id": team.name}
    held = (await api.post("/v1/instances", json=body, headers=other_agent)).json()["instance_id"]
    asked = (await authorize(api, freed, team)).json()
    held_ask = await api.post(
        f"/v1/instances/{held}/steps/act/authorize",
        json={"action": "pay", "arguments": {"amount": 5}}, headers=other_agent,
    )  # fmt: skip
    assert asked["outcome"] == held_ask.json()["outcome"] == "PENDING", held_ask.text
    rid, held_rid = asked["request"]["request_id"], held_ask.json()["request"]["request_id"]
    for iid in (freed, held):
        await deadline_of(api, iid, team)  # supervised, so a halt can freeze it

    raised = await raise_halt(api, {"team": team.name}, team.operator)
    assert raised.status_code == 201, raised.text
    halt_id = raised.json()["halt_id"]
    try:
        left = (await events(api, freed, "DEADLINE_FROZEN"))[0]["payload"]["remaining_seconds"]
        await events(api, held, "DEADLINE_FROZEN")
        await asyncio.sleep(TIMEOUT + 1)
        assert await status(api, freed, rid, team) == "PENDING"

        exempted_at = time.monotonic()
        exempt = await api.post(
            f"/v1/halts/{halt_id}:exempt",
            json={"scope": {"agent": f"bot-{team.name}"}, "reason": "bot is fixed"},
            headers=ADMIN,
        )
        assert exempt.status_code == 200, exempt.text
        resumed = (await events(api, freed, "DEADLINE_RESUMED"))[0]["payload"]
        assert (resumed["request_id"], resumed["halt_ids"]) == (rid, [halt_id])
        assert abs(resumed["remaining_seconds"] - left) < 0.5, (resumed, left)
        while await status(api, freed, rid, team) == "PENDING":
            assert time.monotonic() - exempted_at < left + 15, "never expired after exemption"
            await asyncio.sleep(0.1)
        assert time.monotonic() - exempted_at >= left - 0.5
        assert await status(api, freed, rid, team) == "EXPIRED"

        # The other agent's request is still frozen: no resume, still pending.
        await asyncio.sleep(1)
        assert await status(api, held, held_rid, team) == "PENDING"
        trail = (await api.get(f"/v1/audit/instances/{held}", headers=AUDITOR)).json()["events"]
        assert "DEADLINE_RESUMED" not in [e["type"] for e in trail]
    finally:
        await lift(api, halt_id)
    await events(api, held, "DEADLINE_RESUMED")  # the lift frees the rest

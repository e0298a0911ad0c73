"""Break-glass on the real stack (issue 24): a deployment whose break-glass quorum is
`2_of(security, platform-admin)` lets one team's calls that a policy sends to a human
through without one, each marked ALLOWED_BY_BREAK_GLASS; each human counts once, a TTL
above the maximum is refused, it ends by itself (calls go back to a human, it cannot be
approved again), it covers nothing outside its scope nor CRITICAL steps, and a halt in
scope wins over it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from typer.testing import CliRunner

from gantral.cli import app as cli
from tests.helpers.access_log import access_log_segment
from tests.helpers.audit_reads import audit_of
from tests.helpers.auth import ADMIN, AUDITOR, bearer, token
from tests.helpers.break_glass import glass_api
from tests.helpers.halting import Team, assert_halted, authorize, raise_halt, start, workflow

__all__ = ["glass_api"]  # the fixture, used by name

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SID = bearer("sid", ["security"], teams=())
SUE = bearer("sue", ["security"], teams=())
BO = bearer("bo", ["platform-admin"], teams=())
ASK_LEAD = "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
CRITICAL = "materiality: CRITICAL\n" + ASK_LEAD


async def open_glass(
    api: httpx.AsyncClient, scope: dict[str, Any], who: dict[str, str], ttl: str = "5m"
) -> httpx.Response:
    body = {"scope": scope, "reason": "INC-9: approvers unreachable", "ttl": ttl}
    return await api.post("/v1/break-glass", json=body, headers=who)


async def approve(api: httpx.AsyncClient, glass_id: str, who: dict[str, str]) -> httpx.Response:
    return await api.post(
        f"/v1/break-glass/{glass_id}:approve", json={"reason": "confirmed"}, headers=who
    )


async def instance(api: httpx.AsyncClient, wid: str, team: Team) -> str:
    started = await start(api, wid, team)
    assert started.status_code == 201, started.text
    return str(started.json()["instance_id"])


async def test_a_quorum_lets_its_scope_pass_the_human_requirement_until_a_halt(
    glass_api: httpx.AsyncClient, api: httpx.AsyncClient, temporal: Client
) -> None:
    team, other = Team(), Team()
    wid = await workflow(glass_api, ASK_LEAD)
    critical = await workflow(glass_api, CRITICAL)

    # Who may take part, and the bounds, each a typed refusal.
    off = await open_glass(api, {"team": team.name}, SID)  # a deployment without it
    assert off.status_code == 403 and off.json()["reason"] == "break_glass_disabled", off.text
    for outsider in (team.operator, team.agent, AUDITOR):
        refused = await open_glass(glass_api, {"team": team.name}, outsider)
        assert refused.status_code == 403, refused.text
        assert refused.json()["reason"] == "break_glass_role_required"
    long = await open_glass(glass_api, {"team": team.name}, SID, ttl="11m")
    assert long.status_code == 409 and long.json()["reason"] == "break_glass_ttl_too_long"
    bad = await open_glass(glass_api, {"team": team.name, "agent": "x"}, SID)
    assert bad.status_code == 422, bad.text

    opened = await open_glass(glass_api, {"team": team.name}, SID)
    assert opened.status_code == 201, opened.text
    glass_id = opened.json()["break_glass_id"]
    assert opened.json()["status"] == "pending"
    # Pending: no effect yet.
    iid = await instance(glass_api, wid, team)
    assert (await authorize(glass_api, iid, team)).json()["outcome"] == "PENDING"
    # The same human twice (the opener counted first), then a second security: not yet.
    twice = await approve(glass_api, glass_id, SID)
    assert twice.status_code == 409 and twice.json()["reason"] == "break_glass_already_approved"
    assert (await approve(glass_api, glass_id, SUE)).json()["status"] == "pending"
    done = await approve(glass_api, glass_id, BO)
    assert done.status_code == 200 and done.json()["status"] == "active", done.text
    # Active: not approved again, nor extended.
    more = await approve(glass_api, glass_id, bearer("sal", ["security"], teams=()))
    assert more.status_code == 409 and more.json()["reason"] == "break_glass_not_pending"

    # In scope: allowed without a human, and marked in the instance's log.
    fresh = await instance(glass_api, wid, team)
    allowed = await authorize(glass_api, fresh, team)
    assert allowed.json()["outcome"] == "ALLOW", allowed.text
    assert allowed.json()["break_glass_id"] == glass_id
    marked = await audit_of(api, fresh, "ALLOWED_BY_BREAK_GLASS")
    assert marked[0]["payload"]["break_glass_id"] == glass_id
    assert marked[0]["payload"]["approvers"] == {
        "sid": "security", "sue": "security", "bo": "platform-admin"
    }  # fmt: skip
    assert marked[0]["payload"]["grant_id"] == allowed.json()["grant"]["grant_id"]
    # Outside its scope (another team), and CRITICAL (not configured): a human decides.
    theirs = await authorize(glass_api, await instance(glass_api, wid, other), other)
    assert theirs.json()["outcome"] == "PENDING", theirs.text
    grave = await authorize(glass_api, await instance(glass_api, critical, team), team)
    assert grave.json()["outcome"] == "PENDING", grave.text

    # A halt in scope wins over the break-glass; lifted, the break-glass holds again.
    held = await instance(glass_api, wid, team)
    raised = await raise_halt(glass_api, {"team": team.name}, team.operator)
    assert raised.status_code == 201, raised.text
    halt_id = raised.json()["halt_id"]
    assert_halted(await authorize(glass_api, held, team), halt_id)
    lifted = await glass_api.post(f"/v1/halts/{halt_id}:lift", json={"reason": "ok"}, headers=ADMIN)
    assert lifted.status_code == 200, lifted.text
    resumed = await authorize(glass_api, held, team)
    assert resumed.json()["outcome"] == "ALLOW", resumed.text

    # Listed to holders of halts:read, with its quorum; every act in the access log.
    listed = (await glass_api.get("/v1/break-glass", headers=AUDITOR)).json()
    mine = next(g for g in listed if g["break_glass_id"] == glass_id)
    assert [a["human"] for a in mine["approvals"]] == ["sid", "sue", "bo"]
    assert (await glass_api.get("/v1/break-glass", headers=team.agent)).status_code == 403
    segment = await access_log_segment(temporal)
    acts: list[tuple[str, str]] = []
    for _ in range(100):
        trail = (await api.get(f"/v1/audit/instances/{segment}", headers=AUDITOR)).json()
        acts = [
            (e["payload"]["action"], e["actor"]["id"])
            for e in trail["events"]
            if e["type"] == "ADMIN_ACTION"
            and e["payload"]["detail"].get("break_glass_id") == glass_id
        ]
        if len(acts) == 5:
            break
        await asyncio.sleep(0.1)
    assert acts == [
        ("break_glass_opened", "sid"),
        ("break_glass_approved", "sid"),
        ("break_glass_approved", "sue"),
        ("break_glass_approved", "bo"),
        ("break_glass_active", "bo"),
    ]


async def test_a_break_glass_ends_by_itself_and_calls_go_back_to_a_human(
    glass_api: httpx.AsyncClient,
) -> None:
    team = Team()
    wid = await workflow(glass_api, ASK_LEAD)
    opened = await open_glass(glass_api, {"agent": f"bot-{team.name}"}, SID, ttl="3s")
    glass_id = opened.json()["break_glass_id"]
    assert (await approve(glass_api, glass_id, BO)).json()["status"] == "active"
    allowed = await authorize(glass_api, await instance(glass_api, wid, team), team)
    assert allowed.json()["outcome"] == "ALLOW", allowed.text

    await asyncio.sleep(3.8)  # its TTL, and the replicas' half-second cache
    after = await authorize(glass_api, await instance(glass_api, wid, team), team)
    assert after.json()["outcome"] == "PENDING", after.text
    again = await approve(glass_api, glass_id, SUE)
    assert again.status_code == 409 and again.json()["reason"] == "break_glass_not_pending"
    current = (await glass_api.get("/v1/break-glass", headers=AUDITOR)).json()
    assert glass_id not in {g["break_glass_id"] for g in current}
    ended = (await glass_api.get(f"/v1/break-glass/{glass_id}", headers=AUDITOR)).json()
    assert ended["status"] == "ended"
    unknown = await glass_api.get("/v1/break-glass/bg_nope", headers=AUDITOR)
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_break_glass"


async def test_the_cli_opens_approves_and_lists(glass_api: httpx.AsyncClient) -> None:
    team = Team()

    async def run(who: str, *args: str) -> tuple[int, str]:
        env = {"GANTRAL_API_URL": str(glass_api.base_url), "GANTRAL_TOKEN": who}
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["break-glass", *args], env=env)
        return result.exit_code, result.output

    sid, bo = token("sid", ["security"], teams=()), token("bo", ["platform-admin"], teams=())
    code, out = await run(sid, "open", "--team", team.name, "--ttl", "2h", "--reason", "INC")
    assert code == 1 and "refused: 409 break_glass_ttl_too_long" in out, out
    code, out = await run(
        sid, "open", "--team", team.name, "--ttl", "5m", "--reason", "INC", "--output", "json"
    )
    assert code == 0, out
    glass_id = json.loads(out)["break_glass_id"]
    code, out = await run(sid, "approve", glass_id, "--reason", "again")
    assert code == 1 and "break_glass_already_approved" in out, out
    code, out = await run(bo, "approve", glass_id, "--reason", "confirmed")
    assert code == 0 and f"{glass_id}  team={team.name}  active until" in out, out
    code, out = await run(bo, "list")
    assert code == 0 and glass_id in out and "sid as security, bo as platform-admin" in out, out


async def test_staged_recovery_lets_one_agent_run_inside_a_team_halt(
    api: httpx.AsyncClient,
) -> None:
    team = Team()
    second = bearer(f"bot2-{team.name}", teams=[team.name], agent=True)
    wid = await workflow(api, "requires_human_approval: false\n")
    mine, theirs = await instance(api, wid, team), await instance(api, wid, team)
    raised = await raise_halt(api, {"team": team.name}, team.operator)
    halt_id = raised.json()["halt_id"]

    async def exempt(scope: dict[str, Any], who: dict[str, str]) -> httpx.Response:
        body = {"scope": scope, "reason": "bot fixed in v1.4"}
        return await api.post(f"/v1/halts/{halt_id}:exempt", json=body, headers=who)

    # Not narrower (a lift), the permission to lift, an agent: typed refusals.
    same = await exempt({"team": team.name}, ADMIN)
    assert same.status_code == 409 and same.json()["reason"] == "exemption_not_narrower"
    assert (await exempt({"agent": f"bot-{team.name}"}, team.operator)).status_code == 403
    assert (await exempt({"agent": f"bot-{team.name}"}, team.agent)).status_code == 403

    done = await exempt({"agent": f"bot-{team.name}"}, ADMIN)
    assert done.status_code == 200, done.text
    assert [e["scope"] for e in done.json()["exemptions"]] == [{"agent": f"bot-{team.name}"}]
    assert done.json()["lifted_at"] is None
    again = await exempt({"agent": f"bot-{team.name}"}, ADMIN)
    assert again.status_code == 409 and again.json()["reason"] == "already_exempted"
    # The exempted agent runs again; another agent of the team stays halted.
    ok = await authorize(api, mine, team)
    assert ok.json()["outcome"] == "ALLOW", ok.text
    other = await api.post(
        f"/v1/instances/{theirs}/steps/act/authorize",
        json={"action": "pay", "arguments": {"amount": 5}},
        headers=second,
    )
    assert_halted(other, halt_id)
    lifted = await api.post(f"/v1/halts/{halt_id}:lift", json={"reason": "ok"}, headers=ADMIN)
    assert lifted.status_code == 200, lifted.text

"""Standing approvals that only narrow, on the real stack (issue 24): an APPROVE gives a
standing grant within the policy's bounds; later calls of the agent inside its pattern,
in other instances too, are allowed without a human and audited as
ALLOWED_BY_STANDING_GRANT; another team's agent, a call outside the pattern, a spent or
expired or revoked grant all fall back to a human; a widening pattern is refused."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from gantral.cli import app as cli
from tests.helpers.audit_reads import audit_of
from tests.helpers.auth import ADMIN, AUDITOR, bearer, token
from tests.helpers.governance import put
from tests.helpers.lifecycle import decide
from tests.helpers.serving import served_api

__all__ = ["served_api"]  # the API on a real port, for the CLI

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

STANDING = (
    "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
    "standing: {max_ttl: 1h, max_uses: 5, roles: [TECH_LEAD]}\n"
)
APPROVED = {"amount": 5, "to": "acme-1"}
NARROW = {"amount": {"min": 0, "max": 5}, "to": {"prefix": "acme-"}}


class Team:
    def __init__(self) -> None:
        self.name = f"sg-{uuid.uuid4().hex[:8]}"
        self.agent = bearer(f"bot-{self.name}", teams=[self.name], agent=True)
        self.agent2 = bearer(f"bot2-{self.name}", teams=[self.name], agent=True)
        self.lead = bearer(f"lead-{self.name}", ["TECH_LEAD", "approver"], teams=[self.name])
        self.operator = bearer(f"op-{self.name}", ["operator"], teams=[self.name])


async def workflow(api: httpx.AsyncClient, policy: str) -> str:
    pid = f"pol-{uuid.uuid4().hex[:8]}"
    await put(api, f"/v1/policies/{pid}", policy)
    wid = f"wf-{uuid.uuid4().hex[:8]}"
    await put(
        api,
        f"/v1/workflows/{wid}",
        f"id: {wid}\nsteps:\n  - id: act\n    policy_ref: {{id: {pid}}}\n",
    )
    return wid


async def authorize(
    api: httpx.AsyncClient, wid: str, who: dict[str, str], team: Team, args: dict[str, Any]
) -> dict[str, Any]:
    """Authorize `act` with `args` in a new instance started by `who`."""
    started = await api.post(
        "/v1/instances", json={"workflow_id": wid, "owning_team_id": team.name}, headers=who
    )
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    resp = await api.post(
        f"/v1/instances/{iid}/steps/act/authorize",
        json={"action": "pay", "arguments": args},
        headers=who,
    )
    assert resp.status_code == 200, resp.text
    return {"instance_id": iid, **resp.json()}


async def approve_standing(
    api: httpx.AsyncClient, team: Team, wid: str, **standing: Any
) -> httpx.Response:
    pending = await authorize(api, wid, team.agent, team, APPROVED)
    assert pending["outcome"] == "PENDING", pending
    ask = {"pattern": NARROW, "ttl": "30m", "max_uses": 2} | standing
    return await decide(
        api, pending["instance_id"], pending["request"]["request_id"], "APPROVE", team.lead,
        standing=ask,
    )  # fmt: skip


async def test_a_standing_grant_serves_its_agent_inside_the_pattern_until_spent(
    api: httpx.AsyncClient,
) -> None:
    team, other = Team(), Team()
    wid = await workflow(api, STANDING)
    given = await approve_standing(api, team, wid)
    assert given.status_code == 200, given.text
    grant = given.json()["standing_grant"]
    sid = grant["standing_id"]
    assert (grant["approver"], grant["agent"], grant["max_uses"]) == (
        f"lead-{team.name}", f"bot-{team.name}", 2,
    )  # fmt: skip
    given_event = await audit_of(api, grant["instance_id"], "STANDING_GRANT_GIVEN")
    assert given_event[0]["payload"]["standing_id"] == sid

    # Another team's agent, another agent of the team, a call outside the pattern: a human.
    theirs = await authorize(api, wid, other.agent, other, {"amount": 3, "to": "acme-9"})
    assert theirs["outcome"] == "PENDING", theirs
    second_bot = await authorize(api, wid, team.agent2, team, {"amount": 3, "to": "acme-9"})
    assert second_bot["outcome"] == "PENDING", second_bot
    for outside in ({"amount": 6, "to": "acme-9"}, {"amount": 3, "to": "evil"},
                    {"amount": 3, "to": "acme-9", "force": True}):  # fmt: skip
        assert (await authorize(api, wid, team.agent, team, outside))["outcome"] == "PENDING"

    # Inside: allowed without a human, in new instances, counted, audited.
    first = await authorize(api, wid, team.agent, team, {"amount": 3, "to": "acme-9"})
    assert (first["outcome"], first["standing_id"]) == ("ALLOW", sid), first
    assert first["grant"]["args_digest"] == first["args_digest"]
    allowed = await audit_of(api, first["instance_id"], "ALLOWED_BY_STANDING_GRANT")
    payload = allowed[0]["payload"]
    assert (payload["standing_id"], payload["approver"], payload["use"]) == (
        sid, f"lead-{team.name}", 1,
    )  # fmt: skip
    assert payload["grant_id"] == first["grant"]["grant_id"]
    # The allowed grant starts the step like any other.
    started = await api.post(
        f"/v1/instances/{first['instance_id']}/events",
        json={"kind": "STEP_STARTED", "step_id": "act", "grant_id": first["grant"]["grant_id"],
              "args_digest": first["args_digest"]},
        headers=team.agent,
    )  # fmt: skip
    assert started.status_code == 200, started.text
    # Deterministic: a replay of the allowed instance and of the giving one reproduces them.
    # The replay compares with the audit log: on a busy machine the sink may still be
    # storing the step's start, so ask again until it has (a real difference stays).
    for iid in (first["instance_id"], grant["instance_id"]):
        for _ in range(40):
            replayed = await api.post(f"/v1/replay/{iid}", headers=AUDITOR)
            assert replayed.status_code == 200, replayed.text
            report = replayed.json()
            if report["match"] is True and report["nondeterminism"] == []:
                break
            await asyncio.sleep(0.5)
        assert report["match"] is True and report["nondeterminism"] == [], report
    again = await authorize(api, wid, team.agent, team, {"amount": 5, "to": "acme-1"})
    assert again["outcome"] == "ALLOW" and again["standing_id"] == sid
    spent = await authorize(api, wid, team.agent, team, {"amount": 1, "to": "acme-2"})
    assert spent["outcome"] == "PENDING", spent  # the count ran out

    listed = await api.get(f"/v1/standing-grants?team={team.name}", headers=team.lead)
    assert listed.status_code == 200, listed.text
    assert [(g["standing_id"], g["uses"]) for g in listed.json()] == [(sid, 2)]
    assert (
        await api.get(f"/v1/standing-grants?team={team.name}", headers=other.lead)
    ).status_code == 403
    assert (await api.get(f"/v1/standing-grants/{sid}", headers=other.lead)).status_code == 403


async def test_a_widening_or_unbounded_standing_grant_is_refused(api: httpx.AsyncClient) -> None:
    team = Team()
    wid = await workflow(api, STANDING)
    cases = [
        ({"pattern": {**NARROW, "amount": {"max": 50}}}, "standing_pattern_widens"),
        ({"pattern": {"amount": {"max": 5}}}, "standing_pattern_widens"),  # `to` left free
        ({"pattern": {**NARROW, "currency": {"equals": "EUR"}}}, "standing_pattern_widens"),
        ({"pattern": {"amount": {"max": 5}, "to": {"one_of": ["acme-1", "evil"]}}},
         "standing_pattern_widens"),
        ({"ttl": "2h"}, "standing_exceeds_policy"),
        ({"max_uses": 6}, "standing_exceeds_policy"),
    ]  # fmt: skip
    for ask, reason in cases:
        refused = await approve_standing(api, team, wid, **ask)
        assert refused.status_code in (403, 409, 422), refused.text
        assert refused.json()["reason"] == reason, (ask, refused.text)
    bad = await approve_standing(api, team, wid, pattern={"amount": {"min": 1}})
    assert bad.status_code == 422, bad.text  # a range without max: malformed

    # A policy that allows none, and a role the policy does not name.
    plain = await workflow(api, "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n")
    refused = await approve_standing(api, team, plain)
    assert refused.json()["reason"] == "standing_not_allowed", refused.text
    other_role = await workflow(api, STANDING.replace("roles: [TECH_LEAD]", "roles: [SECURITY]"))
    refused = await approve_standing(api, team, other_role)
    assert refused.json()["reason"] == "standing_role_not_allowed", refused.text
    # CRITICAL never: refused when the policy is published.
    critical = "materiality: CRITICAL\n" + STANDING
    resp = await api.put(
        f"/v1/policies/pol-{uuid.uuid4().hex[:8]}", content=critical,
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )  # fmt: skip
    assert resp.status_code == 422, resp.text


async def test_expiry_by_ttl_and_revocation_by_approver_supervisor_and_halt(
    api: httpx.AsyncClient,
) -> None:
    team, other = Team(), Team()
    wid = await workflow(api, STANDING)
    inside = {"amount": 2, "to": "acme-3"}

    short = await approve_standing(api, team, wid, ttl="2s")
    assert short.status_code == 200, short.text
    await asyncio.sleep(2.5)
    assert (await authorize(api, wid, team.agent, team, inside))["outcome"] == "PENDING"

    # Revoked by its approver, at once; not by another team's lead nor by the agent.
    sid = (await approve_standing(api, team, wid, serves="team")).json()["standing_grant"][
        "standing_id"
    ]
    assert (await authorize(api, wid, team.agent2, team, inside))["standing_id"] == sid
    revoke = f"/v1/standing-grants/{sid}:revoke"
    for who in (other.lead, team.agent):
        assert (await api.post(revoke, json={"reason": "x"}, headers=who)).status_code == 403
    done = await api.post(revoke, json={"reason": "enough"}, headers=team.lead)
    assert done.status_code == 200, done.text
    assert (done.json()["revoked_by"], done.json()["revoke_reason"]) == (
        f"lead-{team.name}",
        "enough",
    )
    assert (await authorize(api, wid, team.agent, team, inside))["outcome"] == "PENDING"
    twice = await api.post(revoke, json={"reason": "again"}, headers=team.lead)
    assert twice.status_code == 409 and twice.json()["reason"] == "already_revoked"
    assert (await api.post("/v1/standing-grants/stg_nope:revoke", json={"reason": "x"},
                           headers=ADMIN)).status_code == 404  # fmt: skip

    # By a supervisor (a platform admin).
    sid = (await approve_standing(api, team, wid)).json()["standing_grant"]["standing_id"]
    by_admin = await api.post(
        f"/v1/standing-grants/{sid}:revoke", json={"reason": "audit"}, headers=ADMIN
    )
    assert by_admin.status_code == 200 and by_admin.json()["revoked_by"] == "pat", by_admin.text

    # By a halt on the team: revoked for good, not only suspended.
    sid = (await approve_standing(api, team, wid)).json()["standing_grant"]["standing_id"]
    halt = await api.post(
        "/v1/halts", json={"scope": {"team": team.name}, "reason": "INC-7"},
        headers=team.operator,
    )  # fmt: skip
    assert halt.status_code == 201, halt.text
    halt_id = halt.json()["halt_id"]
    got = (await api.get(f"/v1/standing-grants/{sid}", headers=team.lead)).json()
    assert (got["revoked_by"], got["revoke_reason"]) == (f"op-{team.name}", f"halt {halt_id}")
    lifted = await api.post(f"/v1/halts/{halt_id}:lift", json={"reason": "ok"}, headers=ADMIN)
    assert lifted.status_code == 200, lifted.text
    assert (await authorize(api, wid, team.agent, team, inside))["outcome"] == "PENDING"


async def test_the_cli_lists_and_revokes(api: httpx.AsyncClient, served_api: str) -> None:
    team = Team()
    wid = await workflow(api, STANDING)
    async with httpx.AsyncClient(base_url=served_api, timeout=60) as served:
        given = await approve_standing(served, team, wid)
    assert given.status_code == 200, given.text
    sid = given.json()["standing_grant"]["standing_id"]

    async def run(who: str, *args: str) -> tuple[int, str]:
        env = {"GANTRAL_API_URL": served_api, "GANTRAL_TOKEN": who}
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["standing", *args], env=env)
        return result.exit_code, result.output

    lead = token(f"lead-{team.name}", ["TECH_LEAD", "approver"], teams=[team.name])
    code, out = await run(lead, "list", "--team", team.name, "--usable")
    assert code == 0 and sid in out and "uses 0/2" in out, out
    stranger = token("someone", ["TECH_LEAD", "approver"], teams=["elsewhere"])
    code, out = await run(stranger, "revoke", sid, "--reason", "not mine")
    assert code == 1 and "gantral standing: refused: 403" in out, out
    code, out = await run(lead, "revoke", sid, "--reason", "done for today", "--output", "json")
    assert code == 0 and json.loads(out)["revoked_by"] == f"lead-{team.name}", out
    code, out = await run(lead, "list", "--team", team.name, "--usable")
    assert code == 0 and out.strip() == "no standing grants", out


async def test_a_retried_keyed_call_spends_no_second_use(api: httpx.AsyncClient) -> None:
    """A retry of an allowed call (same idempotency key and body) answers what the first
    answered and counts no second use: the count is of calls, not of retries."""
    team = Team()
    wid = await workflow(api, STANDING)
    sid = (await approve_standing(api, team, wid)).json()["standing_grant"]["standing_id"]
    started = await api.post(
        "/v1/instances", json={"workflow_id": wid, "owning_team_id": team.name},
        headers=team.agent,
    )  # fmt: skip
    iid = started.json()["instance_id"]

    async def call(key: str, amount: int = 3) -> dict[str, Any]:
        resp = await api.post(
            f"/v1/instances/{iid}/steps/act/authorize",
            json={"action": "pay", "arguments": {"amount": amount, "to": "acme-9"},
                  "idempotency_key": key},
            headers=team.agent,
        )  # fmt: skip
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    async def uses() -> int:
        got = await api.get(f"/v1/standing-grants/{sid}", headers=team.lead)
        assert got.status_code == 200, got.text
        count: int = got.json()["uses"]
        return count

    first = await call("pay-once")
    assert (first["outcome"], first["standing_id"]) == ("ALLOW", sid), first
    assert await uses() == 1
    for _ in range(2):
        assert await call("pay-once") == first
        assert await uses() == 1
    # Concurrent retries of the same call: still one use.
    again = await asyncio.gather(*(call("pay-once") for _ in range(3)))
    assert all(a == first for a in again) and await uses() == 1
    allowed = await audit_of(api, iid, "ALLOWED_BY_STANDING_GRANT")
    assert [e["payload"]["use"] for e in allowed] == [1]
    # Another key is another call: the second (and last) use.
    second = await call("pay-twice", amount=4)
    assert (second["outcome"], second["standing_id"]) == ("ALLOW", sid), second
    assert await uses() == 2
    assert await call("pay-twice", amount=4) == second and await uses() == 2

"""Who may raise and lift halts as the deployment's settings say (issue 24), on the real
stack: a lift needing `2_of(security, platform-admin)` records each approval and lifts at
the quorum, each human counted once and never the raiser; an exemption (staged recovery)
needs the same quorum for its part; halts are listed to the teams they concern."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.halts import HaltSettings
from tests.helpers.access_log import admin_actions
from tests.helpers.auth import ADMIN, AUDITOR, bearer
from tests.helpers.halting import Team, assert_halted, raise_halt, start, workflow
from tests.helpers.serving import api_client

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SID = bearer("sid", ["security"], teams=())
SUE = bearer("sue", ["security"], teams=())
BO = bearer("bo", ["security", "platform-admin"], teams=())


@pytest_asyncio.fixture(loop_scope="session")
async def quorum_api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """A replica whose deployment lifts halts by `2_of(security, platform-admin)`, never
    by their raiser."""
    policy = HaltSettings(lift="2_of(security, platform-admin)", lift_separation=True)
    async with api_client(settings, temporal, audit_config, halts=policy) as c:
        yield c


async def lift(api: httpx.AsyncClient, halt_id: str, who: dict[str, str]) -> httpx.Response:
    return await api.post(f"/v1/halts/{halt_id}:lift", json={"reason": "checked"}, headers=who)


async def test_a_lift_needing_a_quorum_counts_each_human_once_and_never_the_raiser(
    quorum_api: httpx.AsyncClient, api: httpx.AsyncClient, temporal: Client
) -> None:
    team = Team()
    wid = await workflow(quorum_api, "requires_human_approval: false\n")
    raised = await raise_halt(quorum_api, {"team": team.name}, ADMIN)
    assert raised.status_code == 201, raised.text
    halt_id = raised.json()["halt_id"]

    # Separation from the raiser, though pat holds a role of the quorum.
    own = await lift(quorum_api, halt_id, ADMIN)
    assert own.status_code == 403 and own.json()["reason"] == "lifter_is_raiser", own.text
    # The permission table does not decide: an operator holds no role the quorum counts.
    op = await lift(quorum_api, halt_id, team.operator)
    assert op.status_code == 403 and op.json()["reason"] == "lift_role_required", op.text
    bad = await quorum_api.post(f"/v1/halts/{halt_id}:lift", json={"reason": ""}, headers=SID)
    assert bad.status_code == 422

    first = await lift(quorum_api, halt_id, SID)
    assert first.status_code == 200, first.text
    assert first.json()["lifted_at"] is None
    assert [(a["human"], a["role"]) for a in first.json()["lift_approvals"]] == [
        ("sid", "security")
    ]
    twice = await lift(quorum_api, halt_id, SID)  # the same human twice
    assert twice.status_code == 409 and twice.json()["reason"] == "lift_already_approved"
    assert (await lift(quorum_api, halt_id, SUE)).json()["lifted_at"] is None  # 2 security
    assert_halted(await start(quorum_api, wid, team), halt_id)

    done = await lift(quorum_api, halt_id, BO)  # counts as platform-admin: the quorum
    assert done.status_code == 200, done.text
    assert (done.json()["lifted_by"], done.json()["lift_approvals"][-1]["role"]) == (
        "bo",
        "platform-admin",
    )
    assert (await start(quorum_api, wid, team)).status_code == 201
    again = await lift(quorum_api, unknown := "halt_nope", SID)
    assert again.status_code == 404 and again.json()["reason"] == "unknown_halt", unknown

    # Every approval and the lift are in the access log, in order.
    acts = await admin_actions(api, temporal, 5, "halt_id", halt_id)
    assert [(e["payload"]["action"], e["actor"]["id"]) for e in acts] == [
        ("halt_raised", "pat"),
        ("halt_lift_approved", "sid"),
        ("halt_lift_approved", "sue"),
        ("halt_lift_approved", "bo"),
        ("halt_lifted", "bo"),
    ]
    assert acts[3]["payload"]["detail"]["satisfied"] is True


async def exempt(
    api: httpx.AsyncClient, halt_id: str, scope: dict[str, Any], who: dict[str, str]
) -> httpx.Response:
    body = {"scope": scope, "reason": "fixed"}
    return await api.post(f"/v1/halts/{halt_id}:exempt", json=body, headers=who)


async def test_an_exemption_needs_the_lift_quorum_for_its_part(
    quorum_api: httpx.AsyncClient, api: httpx.AsyncClient, temporal: Client
) -> None:
    team = Team()
    fixed = await workflow(quorum_api, "requires_human_approval: false\n")
    other = await workflow(quorum_api, "requires_human_approval: false\n")
    raised = await raise_halt(quorum_api, {"team": team.name}, ADMIN)
    assert raised.status_code == 201, raised.text
    halt_id = raised.json()["halt_id"]
    part = {"workflow": fixed}

    own = await exempt(quorum_api, halt_id, part, ADMIN)  # separation from the raiser
    assert own.status_code == 403 and own.json()["reason"] == "lifter_is_raiser", own.text
    op = await exempt(quorum_api, halt_id, part, team.operator)
    assert op.status_code == 403 and op.json()["reason"] == "lift_role_required", op.text
    wide = await exempt(quorum_api, halt_id, {"team": team.name}, SID)
    assert wide.status_code == 409 and wide.json()["reason"] == "exemption_not_narrower"

    first = await exempt(quorum_api, halt_id, part, SID)
    assert first.status_code == 200, first.text
    assert first.json()["exemptions"] == [] and first.json()["lifted_at"] is None
    assert [(a["scope"], a["human"], a["role"]) for a in first.json()["exemption_approvals"]] == [
        (part, "sid", "security")
    ]
    assert_halted(await start(quorum_api, fixed, team), halt_id)  # pending: still halted
    twice = await exempt(quorum_api, halt_id, part, SID)
    assert twice.status_code == 409 and twice.json()["reason"] == "exemption_already_approved"
    seen = (await quorum_api.get(f"/v1/halts/{halt_id}", headers=AUDITOR)).json()
    assert [a["human"] for a in seen["exemption_approvals"]] == ["sid"]  # what is waiting

    done = await exempt(quorum_api, halt_id, part, BO)  # counts as platform-admin: the quorum
    assert done.status_code == 200, done.text
    assert [(e["scope"], e["exempted_by"]) for e in done.json()["exemptions"]] == [(part, "bo")]
    assert done.json()["lifted_at"] is None
    assert (await start(quorum_api, fixed, team)).status_code == 201  # the part runs again
    assert_halted(await start(quorum_api, other, team), halt_id)  # the rest stays halted
    again = await exempt(quorum_api, halt_id, part, SUE)
    assert again.status_code == 409 and again.json()["reason"] == "already_exempted"

    acts = await admin_actions(api, temporal, 4, "halt_id", halt_id)
    assert [(e["payload"]["action"], e["actor"]["id"]) for e in acts] == [
        ("halt_raised", "pat"),
        ("halt_exemption_approved", "sid"),
        ("halt_exemption_approved", "bo"),
        ("halt_exempted", "bo"),
    ]
    approved = acts[2]["payload"]["detail"]
    assert (approved["exempted"], approved["satisfied"]) == (part, True)


async def test_halts_are_listed_to_the_teams_they_concern(api: httpx.AsyncClient) -> None:
    team, other = Team(), Team()
    mine = (await raise_halt(api, {"team": team.name}, team.operator)).json()["halt_id"]
    theirs = (await raise_halt(api, {"team": other.name}, other.operator)).json()["halt_id"]
    agent = (await raise_halt(api, {"agent": f"bot-{team.name}"}, ADMIN)).json()["halt_id"]
    try:
        seen = {h["halt_id"] for h in (await api.get("/v1/halts", headers=team.operator)).json()}
        assert mine in seen and agent in seen and theirs not in seen
        everything = {h["halt_id"] for h in (await api.get("/v1/halts", headers=AUDITOR)).json()}
        assert {mine, theirs, agent} <= everything
        hidden = await api.get(f"/v1/halts/{theirs}", headers=team.operator)
        assert hidden.status_code == 404 and hidden.json()["reason"] == "unknown_halt"
        assert (await api.get(f"/v1/halts/{mine}", headers=team.operator)).status_code == 200
    finally:
        for halt_id in (mine, theirs, agent):
            assert (await lift(api, halt_id, ADMIN)).status_code == 200


@pytest_asyncio.fixture(loop_scope="session")
async def owners_api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """A replica whose deployment lets an agent's owner halt it; others raise as security."""
    policy = HaltSettings(owners_may_halt=True, raise_roles=["security"])
    async with api_client(settings, temporal, audit_config, halts=policy) as c:
        yield c


async def test_an_agents_owner_halts_that_agent_and_nothing_else(
    owners_api: httpx.AsyncClient, api: httpx.AsyncClient, temporal: Client
) -> None:
    team = Team()
    bot = f"bot-{team.name}"
    team.agent = bearer(bot, teams=[team.name], agent=True, owner="olive")
    olive = bearer("olive", teams=[team.name])  # no role, no `halts:raise`
    wid = await workflow(owners_api, "requires_human_approval: false\n")
    assert (await start(owners_api, wid, team)).status_code == 201  # its token names olive

    # Not her agent, nor a wider scope; and where owners may not, not this one either.
    for scope in ({"agent": "bot-of-someone-else"}, {"team": team.name}):
        other = await raise_halt(owners_api, scope, olive)
        assert other.status_code == 403, other.text
    assert (await raise_halt(api, {"agent": bot}, olive)).status_code == 403
    # Ids are compared exactly: another case or spacing names someone, or something, else.
    assert (await raise_halt(owners_api, {"agent": bot.upper()}, olive)).status_code == 403
    for variant in ("Olive", "olive "):
        as_variant = await raise_halt(
            owners_api, {"agent": bot}, bearer(variant, teams=[team.name])
        )
        assert as_variant.status_code == 403, as_variant.text
    sam = bearer("sam-sec", ["security"], teams=())  # holds the raise role, not the permission
    assert (await raise_halt(owners_api, {"agent": bot}, sam)).status_code == 403

    raised = await raise_halt(owners_api, {"agent": bot}, olive)
    assert raised.status_code == 201, raised.text
    halt_id = raised.json()["halt_id"]
    assert raised.json()["raised_by"] == "olive"
    assert_halted(await start(owners_api, wid, team), halt_id)
    acts = await admin_actions(api, temporal, 1, "halt_id", halt_id)
    assert acts[0]["payload"]["detail"]["raised_as"] == "agent_owner"

    # The identity provider names a new owner: the agent's next call moves the power.
    team.agent = bearer(bot, teams=[team.name], agent=True, owner="otto")
    assert_halted(await start(owners_api, wid, team), halt_id)
    again = await raise_halt(owners_api, {"agent": bot}, olive)
    assert again.status_code == 403, again.text
    otto = bearer("otto", teams=[team.name])
    assert (await raise_halt(owners_api, {"agent": bot}, otto)).status_code == 201
    # An agent cannot halt on its own owner's behalf.
    assert (await raise_halt(owners_api, {"agent": bot}, team.agent)).status_code == 403

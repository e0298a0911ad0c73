"""Deputies on the real stack (issue 24): a human delegates their decision roles for a
window (`PUT /v1/delegations/me`), and a deputy's decision is checked where authority
lives, in the workflow, against the delegation the API resolved. The hostile cases: a
deputy who is the requester, a chain of two hops, a decision outside the window, deputy
and delegator both counted in one quorum; and a deputy's decision records both names."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.worker import Replayer

from gantral.errors import Unavailable
from gantral.governance.delegation_book import open_delegations
from gantral.settings import Settings
from gantral.temporal_codec import data_converter
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.sandbox import SANDBOX_RUNNER
from tests.helpers.access_log import admin_actions
from tests.helpers.auth import AUDITOR, bearer
from tests.helpers.governance import put
from tests.helpers.lifecycle import decide

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

TWO_HUMANS = (
    "requires_human_approval: true\napprovers: [{role: TECH_LEAD}, {role: SECURITY_REVIEWER}]\n"
)
ONE_LEAD = "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"


class Team:
    """A team of its own per test: its people never meet another test's requests."""

    def __init__(self) -> None:
        self.name = name = f"dt-{uuid.uuid4().hex[:8]}"
        self.agent = bearer(f"bot-{name}", teams=[name], agent=True, owner=f"olga-{name}")

    def human(self, who: str, *roles: str) -> tuple[str, dict[str, str]]:
        sub = f"{who}-{self.name}"
        return sub, bearer(sub, ["approver", *roles], teams=[self.name])


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


async def pending(
    api: httpx.AsyncClient, wid: str, team: Team, asker: dict[str, str] | None = None
) -> tuple[str, str]:
    """A new instance waiting on one request: (instance id, request id)."""
    who = asker or team.agent
    body = {"workflow_id": wid, "owning_team_id": team.name}
    started = await api.post("/v1/instances", json=body, headers=who)
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    ask = {"action": "pay", "arguments": {"amount": 5}}
    asked = await api.post(f"/v1/instances/{iid}/steps/act/authorize", json=ask, headers=who)
    assert asked.json()["outcome"] == "PENDING", asked.text
    return iid, asked.json()["request"]["request_id"]


async def delegate(
    api: httpx.AsyncClient, who: dict[str, str], deputy: str, **body: Any
) -> httpx.Response:
    ends = body.pop("ends_at", datetime.now(UTC) + timedelta(hours=8))
    payload = {"deputy": deputy, "ends_at": _iso(ends), **body}
    if isinstance(payload.get("starts_at"), datetime):
        payload["starts_at"] = _iso(payload["starts_at"])
    return await api.put("/v1/delegations/me", json=payload, headers=who)


def _iso(at: datetime) -> str:
    return at.isoformat()


def refused(resp: httpx.Response, status: int, reason: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["reason"] == reason, resp.text


async def test_a_deputy_decision_records_both_names(
    api: httpx.AsyncClient, temporal: Client, settings: Settings
) -> None:
    team = Team()
    alice_id, alice = team.human("alice", "TECH_LEAD")
    dana_id, dana = team.human("dana")  # an approver of the team, no policy role of her own
    wid = await workflow(api, ONE_LEAD)
    iid, rid = await pending(api, wid, team)

    # Before any delegation, dana has no role here, and cannot claim one.
    refused(await decide(api, iid, rid, "APPROVE", dana), 403, "role_not_allowed")
    no = await decide(api, iid, rid, "APPROVE", dana, on_behalf_of=alice_id)
    refused(no, 403, "no_delegation")

    given = await delegate(api, alice, dana_id, roles=["TECH_LEAD"], reason="out of office")
    assert given.status_code == 200, given.text
    delegation = given.json()
    assert (delegation["delegator"], delegation["deputy"], delegation["roles"]) == (
        alice_id,
        dana_id,
        ["TECH_LEAD"],
    )
    assert delegation["teams"] == [team.name]
    mine = (await api.get("/v1/delegations/me", headers=dana)).json()
    assert [d["delegation_id"] for d in mine["received"]] == [delegation["delegation_id"]]
    assert mine["given"] is None
    assert (await api.get("/v1/delegations/me", headers=alice)).json()["given"] == delegation

    decided = await decide(api, iid, rid, "APPROVE", dana, on_behalf_of=alice_id)
    assert decided.status_code == 200, decided.text
    result = decided.json()
    assert result["decision"]["human_actor_id"] == dana_id
    assert result["decision"]["on_behalf_of"] == alice_id
    assert result["decision"]["delegation_id"] == delegation["delegation_id"]
    request = (await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=alice)).json()
    assert request["status"] == "APPROVED"
    assert (request["decided_by"], request["decided_on_behalf_of"]) == (dana_id, alice_id)
    assert request["approvals"] == {alice_id: "TECH_LEAD"}
    assert request["deputies"] == {alice_id: dana_id}

    # The audit trail holds both names, and verifies.
    recorded: list[dict[str, Any]] = []
    for _ in range(100):
        trail = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        recorded = [e for e in trail.json()["events"] if e["type"] == "DECISION_RECORDED"]
        if recorded:
            break
        await asyncio.sleep(0.1)
    assert recorded[0]["actor"]["id"] == dana_id
    assert recorded[0]["payload"]["on_behalf_of"] == alice_id
    assert recorded[0]["payload"]["attested"]["body"]["on_behalf_of"]["delegator"] == alice_id
    verified = await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)
    assert verified.status_code == 200 and verified.json()["ok"], verified.text
    # The delegation is a fact in the instance's history: a replay reproduces the
    # decision without the delegation store (ended below, it would refuse it now).
    history = await temporal.get_workflow_handle(iid).fetch_history()
    replayer = Replayer(
        workflows=[InstanceWorkflow],
        workflow_runner=SANDBOX_RUNNER,
        data_converter=data_converter(settings),
    )
    await replayer.replay_workflow(history)

    # Setting and ending the delegation are both in the access log.
    ended = await api.delete("/v1/delegations/me", headers=alice)
    assert ended.status_code == 200 and ended.json()["ended_by"] == alice_id, ended.text
    refused(await api.delete("/v1/delegations/me", headers=alice), 404, "no_delegation")
    acts = await admin_actions(api, temporal, 2, "delegation_id", delegation["delegation_id"])
    assert [(e["payload"]["action"], e["actor"]["id"]) for e in acts] == [
        ("delegation_set", alice_id),
        ("delegation_ended", alice_id),
    ]


async def test_a_deputy_who_is_the_requester_is_refused_and_so_is_a_requesters_deputy(
    api: httpx.AsyncClient,
) -> None:
    team = Team()
    alice_id, alice = team.human("alice", "TECH_LEAD")
    # rita drives the instance by hand, so she is its requester
    rita_id, rita = team.human("rita", "operator", "TECH_LEAD")
    dana_id, dana = team.human("dana")
    wid = await workflow(api, ONE_LEAD)
    iid, rid = await pending(api, wid, team, asker=rita)
    assert (await delegate(api, alice, rita_id, roles=["TECH_LEAD"])).status_code == 200
    as_deputy = await decide(api, iid, rid, "APPROVE", rita, on_behalf_of=alice_id)
    refused(as_deputy, 403, "separation_of_duties")
    # The requester's own deputy cannot carry the requester's authority either.
    assert (await delegate(api, rita, dana_id, roles=["TECH_LEAD"])).status_code == 200
    for_requester = await decide(api, iid, rid, "APPROVE", dana, on_behalf_of=rita_id)
    refused(for_requester, 403, "separation_of_duties")
    # Nor the agent's owner: olga delegates, her deputy is refused.
    iid2, rid2 = await pending(api, wid, team)
    olga = bearer(f"olga-{team.name}", ["approver", "TECH_LEAD"], teams=[team.name])
    assert (await delegate(api, olga, dana_id)).status_code == 200
    for_owner = await decide(api, iid2, rid2, "APPROVE", dana, on_behalf_of=f"olga-{team.name}")
    refused(for_owner, 403, "separation_of_duties")
    request = (await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=alice)).json()
    assert request["status"] == "PENDING" and request["approvals"] == {}


async def test_a_delegation_chain_of_two_hops_is_not_honoured(api: httpx.AsyncClient) -> None:
    team = Team()
    alice_id, alice = team.human("alice", "TECH_LEAD")
    bob_id, bob = team.human("bob")
    carol_id, carol = team.human("carol")
    wid = await workflow(api, ONE_LEAD)
    iid, rid = await pending(api, wid, team)
    assert (await delegate(api, alice, bob_id, roles=["TECH_LEAD"])).status_code == 200
    # bob cannot pass alice's role on...
    refused(await delegate(api, bob, carol_id, roles=["TECH_LEAD"]), 403, "delegation_chain")
    refused(await delegate(api, bob, carol_id, roles=["CFO"]), 403, "role_not_held")
    # ...and what he may delegate (his own roles) carries none of alice's authority.
    assert (await delegate(api, bob, carol_id)).status_code == 200
    via_alice = await decide(api, iid, rid, "APPROVE", carol, on_behalf_of=alice_id)
    refused(via_alice, 403, "no_delegation")
    via_bob = await decide(api, iid, rid, "APPROVE", carol, on_behalf_of=bob_id)
    refused(via_bob, 403, "role_not_allowed")
    # bob is away now: nobody may name him as deputy for that window
    refused(await delegate(api, alice, bob_id), 409, "deputy_away")
    # and nobody is their own deputy
    refused(await delegate(api, alice, alice_id), 409, "delegate_to_self")
    request = (await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=alice)).json()
    assert request["status"] == "PENDING"


async def test_outside_the_window_a_deputy_is_refused(api: httpx.AsyncClient) -> None:
    team = Team()
    alice_id, alice = team.human("alice", "TECH_LEAD")
    dana_id, dana = team.human("dana")
    wid = await workflow(api, ONE_LEAD)
    iid, rid = await pending(api, wid, team)
    now = datetime.now(UTC)
    # The window is bounded, and never reaches into the past.
    refused(
        await delegate(api, alice, dana_id, ends_at=now + timedelta(days=90)),
        409,
        "delegation_too_long",
    )
    refused(
        await delegate(api, alice, dana_id, ends_at=now - timedelta(hours=1)),
        409,
        "delegation_window",
    )
    back = await delegate(api, alice, dana_id, starts_at=now - timedelta(days=1))
    refused(back, 409, "delegation_window")
    bad = await api.put("/v1/delegations/me", json={"deputy": dana_id}, headers=alice)
    assert bad.status_code == 422, bad.text
    # Tomorrow's delegation gives nothing today.
    later = await delegate(
        api, alice, dana_id, starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2)
    )
    assert later.status_code == 200, later.text
    early = await decide(api, iid, rid, "APPROVE", dana, on_behalf_of=alice_id)
    refused(early, 403, "delegation_not_in_effect")
    # Replaced by one in effect now, then ended: from then on, refused again.
    assert (await delegate(api, alice, dana_id)).status_code == 200
    assert (await api.delete("/v1/delegations/me", headers=alice)).status_code == 200
    ended = await decide(api, iid, rid, "APPROVE", dana, on_behalf_of=alice_id)
    refused(ended, 403, "delegation_not_in_effect")
    request = (await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=alice)).json()
    assert request["status"] == "PENDING" and request["approvals"] == {}


async def test_deputy_and_delegator_never_both_count_in_one_quorum(
    api: httpx.AsyncClient,
) -> None:
    team = Team()
    lena_id, lena = team.human("lena", "TECH_LEAD", "SECURITY_REVIEWER")
    sam_id, sam = team.human("sam", "SECURITY_REVIEWER")
    dana_id, dana = team.human("dana")
    wid = await workflow(api, TWO_HUMANS)
    assert (await delegate(api, lena, dana_id)).status_code == 200
    assert (await delegate(api, sam, dana_id)).status_code == 200

    # lena approves herself; her deputy cannot add lena's other role.
    iid, rid = await pending(api, wid, team)
    first = await decide(api, iid, rid, "APPROVE", lena, role="TECH_LEAD")
    assert first.status_code == 200, first.text
    twice = await decide(api, iid, rid, "APPROVE", dana, on_behalf_of=lena_id)
    refused(twice, 409, "already_counted")

    # dana approves for lena; she cannot count again for sam, nor lena after her.
    iid, rid = await pending(api, wid, team)
    first = await decide(api, iid, rid, "APPROVE", dana, on_behalf_of=lena_id, role="TECH_LEAD")
    assert first.status_code == 200, first.text
    again = await decide(api, iid, rid, "APPROVE", dana, on_behalf_of=sam_id)
    refused(again, 409, "already_counted")
    refused(await decide(api, iid, rid, "APPROVE", lena), 409, "already_approved")
    request = (await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=sam)).json()
    assert request["status"] == "PENDING" and request["approvals"] == {lena_id: "TECH_LEAD"}
    # A second human completes it.
    last = await decide(api, iid, rid, "APPROVE", sam)
    assert last.status_code == 200 and last.json()["request"]["status"] == "APPROVED", last.text


async def test_delegations_are_append_only_rows_in_postgresql(settings: Settings) -> None:
    dsn = settings.database.registry_url.get_secret_value()
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT count(*) FROM gantral_delegations.delegations").fetchone()
        assert rows is not None and rows[0] > 0  # the tests above stored theirs here
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("DELETE FROM gantral_delegations.delegations")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("UPDATE gantral_delegations.delegation_ends SET ended_by = 'x'")


async def test_the_relay_reads_delegations_with_a_select_only_login(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    """The channel relay only reads delegations: a login with SELECT on them suffices (it
    does not migrate), and one without it is an unavailable store, never a crash."""
    suffix = uuid.uuid4().hex[:8]
    lead = bearer(f"ro-lead-{suffix}", ["TECH_LEAD", "approver"])
    assert (await delegate(api, lead, f"ro-deputy-{suffix}")).status_code == 200
    dsn = settings.database.registry_url.get_secret_value()
    reader, none = f"relay_ro_{suffix}", f"relay_none_{suffix}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        database = conn.info.dbname
        for role in (reader, none):
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'x'")
            conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {role}")
        conn.execute(f"GRANT USAGE ON SCHEMA gantral_delegations TO {reader}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA gantral_delegations TO {reader}")

    def as_role(role: str) -> Settings:
        url = make_conninfo(dsn, user=role, password="x")
        database_settings = settings.database.model_copy(update={"registry_url": SecretStr(url)})
        return settings.model_copy(update={"database": database_settings})

    # The delegations in effect, as the API's own login reads them at one instant.
    since = datetime.now(UTC)
    async with open_delegations(settings, migrate=False) as book:
        stored = await book.store.current(since)
    assert f"ro-deputy-{suffix}" in {d.deputy for d in stored}
    async with open_delegations(as_role(reader), migrate=False) as book:
        assert await book.store.current(since) == stored
    async with open_delegations(as_role(none), migrate=False) as book:
        with pytest.raises(Unavailable, match="cannot be read"):
            await book.store.current(book.now())


async def test_out_of_office_routes_the_delegators_requests_to_the_deputy(
    api: httpx.AsyncClient,
) -> None:
    team = Team()
    alice_id, alice = team.human("alice", "TECH_LEAD")
    rita_id, rita = team.human("rita", "operator", "TECH_LEAD")
    dana_id, dana = team.human("dana")
    wid = await workflow(api, ONE_LEAD)
    iid, rid = await pending(api, wid, team)
    _, asked_by_rita = await pending(api, wid, team, asker=rita)

    async def inbox() -> dict[str, list[str]]:
        page = await api.get(f"/v1/requests?pending_for=me&team={team.name}", headers=dana)
        assert page.status_code == 200, page.text
        return {item["request_id"]: item["deputy_for"] for item in page.json()["items"]}

    assert await inbox() == {}  # dana holds no role of her own here
    assert (await delegate(api, alice, dana_id, roles=["TECH_LEAD"])).status_code == 200
    assert (await delegate(api, rita, dana_id, roles=["TECH_LEAD"])).status_code == 200
    # Both delegators' requests route to dana; rita's delegation routes nothing rita
    # asked for herself (separation of duties), but alice's authority covers it.
    assert await inbox() == {rid: [alice_id, rita_id], asked_by_rita: [alice_id]}
    # A tomorrow's delegation routes nothing today.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    later = await delegate(
        api, alice, dana_id, starts_at=tomorrow, ends_at=tomorrow + timedelta(days=1)
    )
    assert later.status_code == 200, later.text
    assert await inbox() == {rid: [rita_id]}
    decided = await decide(api, iid, rid, "APPROVE", dana, on_behalf_of=rita_id)
    assert decided.status_code == 200, decided.text
    assert await inbox() == {}

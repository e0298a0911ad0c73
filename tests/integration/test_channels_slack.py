"""Slack on the real stack: a local server speaks Slack's Web API (slack_sdk's base_url
points at it) and the tests send what Slack sends, signed with Slack's v0 scheme.

Covered: approve from Slack end to end; an override from the modal re-checked by policy;
forged and stale signatures; unknown users; a deputy deciding for the delegator (and
refused when the deputy requested it); "approve these N" from App Home, each request
bound to the digest its modal displayed; approvers by Slack user group (and a removal
from the group refused once the membership cache expires); the message updated after a
decision in another channel; a race between Slack and the API; Slack down while an
instance waits; long arguments (key fields first, the cut said, approving what could not
be shown a policy choice, an Override that fits Slack's input); modals checked before
they open, blank justifications answered inline, outcome texts naming what happened.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

from gantral.api.app import create_app
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.channels import SlackSettings
from gantral.workers.channels import relay_id, run_channels
from tests.helpers.access_log import refusals_of, refusals_on
from tests.helpers.auth import ADMIN, bearer
from tests.helpers.deciding import decide_as_shown
from tests.helpers.polling import long_poll
from tests.helpers.publishing import publish_one_step
from tests.helpers.serving import serve
from tests.helpers.slack_stand_in import (
    SlackStandIn,
    block_action,
    home_action,
    sign,
    signed,
    view_submission,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SECRET = "slack-signing-secret-for-tests"
TOKEN = "xoxb-test-bot-token"
AGENT = bearer("slack-agent", agent=True)
API_LEAD = bearer("api-lead", ["TECH_LEAD", "approver"])
POLICY = """
materiality: LOW
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
override_roles: [TECH_LEAD]
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 100}]}
by_materiality:
  HIGH: {approvers: [{role: CFO}]}
"""
INTERACTIONS = "/v1/channels/slack/interactions"
WON = "already APPROVED by api-lead via api"
GROUP_CACHE = 1.0  # seconds; production default 60


class World:
    def __init__(self, api: httpx.AsyncClient, slack: SlackStandIn, url: str, workflow: str):
        self.api, self.slack, self.url, self.workflow = api, slack, url, workflow

    async def pending(self, amount: int = 10, workflow: str | None = None) -> tuple[str, str]:
        iid = await self.start(workflow or self.workflow)
        return iid, await self.authorize(iid, amount)

    async def start(self, workflow: str) -> str:
        body = {"workflow_id": workflow, "owning_team_id": "payments"}
        resp = await self.api.post("/v1/instances", json=body, headers=AGENT)
        return str(resp.json()["instance_id"])

    async def authorize(
        self, iid: str, amount: int = 10, arguments: dict[str, Any] | None = None
    ) -> str:
        resp = await self.api.post(
            f"/v1/instances/{iid}/steps/act/authorize",
            json={"action": "pay", "arguments": arguments or {"amount": amount, "to": "acme"}},
            headers=AGENT,
        )
        assert resp.json()["outcome"] == "PENDING", resp.text
        return str(resp.json()["request"]["request_id"])

    async def message(self, request_id: str) -> tuple[str, dict[str, Any]]:
        """The ts and body of the message posted for `request_id`."""
        return await until(lambda: self._find(request_id), "the request was not posted")

    def _find(self, request_id: str) -> tuple[str, dict[str, Any]] | None:
        for ts, body in self.slack.messages.items():
            if request_id in str(body.get("blocks")):
                return ts, body
        return None

    async def click(
        self,
        user: str,
        ts: str,
        action: str,
        *,
        as_: str = "",
        seen: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """`user` clicks `action`'s button; `as_`: the click carries another action id
        (a message posted before a button was withdrawn, or a forged client); `seen`: the
        message as the user's client still shows it (the relay may have updated it since)."""
        message = seen if seen is not None else self.slack.messages[ts]
        payload = block_action(user, message, ts, action, f"{self.url}/respond/{uuid.uuid4().hex}")
        if as_:
            payload["actions"][0]["action_id"] = as_
        body, headers = signed(SECRET, payload)
        return await self.api.post(INTERACTIONS, content=body, headers=headers)

    async def submit(self, user: str, view: dict[str, Any], values: dict[str, str]) -> Any:
        body, headers = signed(SECRET, view_submission(user, view, values))
        resp = await self.api.post(INTERACTIONS, content=body, headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json() if resp.content else None

    async def replied(self, needle: str) -> str:
        """The ephemeral reply (response_url or chat.postEphemeral) containing `needle`."""

        def find() -> str | None:
            texts = [r.get("text", "") for r in self.slack.responses] + [
                m.get("text", "") for m in self.slack.of("chat.postEphemeral")
            ]
            return next((t for t in texts if needle in t), None)

        return str(await until(find, f"no reply containing {needle!r}"))

    def refused(self) -> list[dict[str, Any]]:
        """The ephemeral "not mapped" replies so far."""
        return [
            r
            for r in self.slack.responses
            if "not mapped" in r.get("text", "") and r.get("response_type") == "ephemeral"
        ]

    async def outcome(self, iid: str, rid: str, wait: int = 20) -> dict[str, Any]:
        """The request once decided (or as it stands after `wait` s); `wait=0` reads a
        request that must still be PENDING as it stands, without holding the poll."""
        return await long_poll(self.api, f"/v1/instances/{iid}/requests/{rid}", API_LEAD, wait)


async def until(probe: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    for _ in range(int(seconds * 10)):
        found = probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(what)


@pytest_asyncio.fixture(loop_scope="session")
async def world(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[World]:
    slack = SlackStandIn(
        token=TOKEN,
        emails={"U_BOB": "Bob@Example.com"},
        usergroups={
            "S0PAYAPPR": {"handle": "payments-approvers", "users": ["U_CAROL", "U_DAN"]},
            "S0OLD": {"handle": "old-approvers", "users": ["U_EVE"], "disabled": True},
        },
    )
    async with serve(slack.app()) as url:
        approver = {"roles": ["TECH_LEAD", "approver", "supervisor"], "teams": ["payments"]}
        configured = settings.model_copy(
            update={
                "slack": SlackSettings.model_validate(
                    {
                        "signing_secret": SECRET,
                        "bot_token": TOKEN,
                        "api_url": f"{url}/api/",
                        "team_channels": {"payments": "C_PAY"},
                        "users": {
                            "U_ALICE": {"actor": "slack-alice", **approver},
                            # May decide for the team, but holds no role the policy names.
                            "U_SRE": {
                                "actor": "slack-sre",
                                "roles": ["approver", "SRE"],
                                "teams": ["payments"],
                            },
                            # A deputy: decides the policy's requests only as someone's.
                            "U_DEPUTY": {
                                "actor": "slack-dep",
                                "roles": ["approver"],
                                "teams": ["payments"],
                            },
                        },
                        "users_by_email": {"bob@example.com": {"actor": "slack-bob", **approver}},
                        "groups": {"@payments-approvers": approver, "S0OLD": approver},
                        "group_cache_seconds": GROUP_CACHE,
                    }
                )
            }
        )
        app = create_app(configured, temporal, audit_config=audit_config)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as api,
            run_channels(temporal, configured, audit_config),
        ):
            workflow = f"slack-{uuid.uuid4().hex[:6]}"
            await publish_one_step(api, workflow, POLICY)
            try:
                yield World(api, slack, url, workflow)
            finally:
                await temporal.get_workflow_handle(relay_id(configured, "slack")).terminate()


async def test_approve_from_slack_updates_the_message(world: World) -> None:
    iid, rid = await world.pending()
    ts, posted = await world.message(rid)
    assert posted["channel"] == "C_PAY" and "Approve" in str(posted["blocks"])
    assert "digest" in str(posted["blocks"]) and "0 of 1 approvals" in str(posted["blocks"])

    resp = await world.click("U_ALICE", ts, "gantral_approve")
    assert resp.status_code == 200
    done = await world.outcome(iid, rid)
    assert done["status"] == "APPROVED" and done["decided_by"] == "slack-alice"
    assert done["decided_via"] == "slack"
    view = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()
    decision = view["decisions"][-1]
    assert decision["channel"] == "slack" and decision["channel_ref"] == ts
    await until(
        lambda: "APPROVED* by slack-alice via slack" in str(world.slack.messages[ts]["blocks"]),
        "the message was not updated",
    )
    assert "gantral_approve" not in str(world.slack.messages[ts]["blocks"])
    await until(
        lambda: any("recorded" in r.get("text", "") for r in world.slack.responses), "no reply"
    )


async def test_user_mapped_by_email_through_users_info(world: World) -> None:
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    assert (await world.click("U_BOB", ts, "gantral_approve")).status_code == 200
    assert (await world.outcome(iid, rid))["decided_by"] == "slack-bob"


async def test_user_approves_by_group_membership(world: World) -> None:
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    assert (await world.click("U_CAROL", ts, "gantral_approve")).status_code == 200
    done = await world.outcome(iid, rid)
    # Only the group maps Carol: her stable Slack id names her, the group gave TECH_LEAD.
    assert done["status"] == "APPROVED" and done["decided_by"] == "slack:U_CAROL"
    assert done["approvals"] == {"slack:U_CAROL": "TECH_LEAD"}
    # Read as Slack requires: form arguments, the group id from usergroups.list.
    assert {"usergroup": "S0PAYAPPR"} in world.slack.of("usergroups.users.list")


async def test_user_removed_from_the_group_is_refused_after_the_cache_window(
    world: World, temporal: Client, api: httpx.AsyncClient
) -> None:
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    assert (await world.click("U_DAN", ts, "gantral_approve")).status_code == 200
    assert (await world.outcome(iid, rid))["decided_by"] == "slack:U_DAN"

    world.slack.usergroups["S0PAYAPPR"]["users"].remove("U_DAN")
    await asyncio.sleep(GROUP_CACHE + 0.2)
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    for user in ("U_DAN", "U_EVE"):  # Eve is only in a disabled group
        before = len(world.refused())
        assert (await world.click(user, ts, "gantral_approve")).status_code == 200
        await until(lambda n=before: len(world.refused()) > n, f"no ephemeral refusal for {user}")
        assert await refusals_of(api, temporal, f"slack:{user}")
    pending = (await world.api.get(f"/v1/instances/{iid}/requests/{rid}", headers=API_LEAD)).json()
    assert pending["status"] == "PENDING" and pending["approvals"] == {}


async def test_the_pinned_policy_names_the_channel_over_the_teams(world: World) -> None:
    workflow = f"slack-ch-{uuid.uuid4().hex[:6]}"
    await publish_one_step(world.api, workflow, POLICY + "notify: {slack: {channel: C0POLICY1}}\n")
    iid = await world.start(workflow)
    # Published after the instance started: the instance keeps the version it pinned.
    yaml = {"Content-Type": "application/yaml", **ADMIN}
    later = POLICY + "notify: {slack: {channel: C0LATER1}}\n"
    resp = await world.api.put(f"/v1/policies/{workflow}-policy", content=later, headers=yaml)
    assert resp.status_code in (200, 201) and resp.json()["version"] == 2, resp.text
    rid = await world.authorize(iid)
    ts, posted = await world.message(rid)
    assert posted["channel"] == "C0POLICY1"  # not the team's C_PAY, nor the later C0LATER1

    resp = await decide_as_shown(world.api, iid, rid, API_LEAD)
    assert resp.status_code == 200
    await until(
        lambda: "APPROVED* by api-lead via api" in str(world.slack.messages[ts]["blocks"]),
        "the copy in the policy's channel was not updated",
    )
    assert world.slack.messages[ts]["channel"] == "C0POLICY1"

    # The field is validated like the rest of the policy: unknown keys, #names refused.
    for bad in ("{slack: {channel: C0POLICY1, topic: x}}", "{slack: {channel: '#pay'}}", "{}"):
        resp = await world.api.put(
            f"/v1/policies/{workflow}-bad", content=POLICY + f"notify: {bad}\n", headers=yaml
        )
        assert resp.status_code == 422, (bad, resp.text)


async def test_forged_and_stale_signatures_are_refused(world: World) -> None:
    _, rid = await world.pending()
    ts, message = await world.message(rid)
    payload = block_action("U_ALICE", message, ts, "gantral_approve", f"{world.url}/respond/x")
    body, headers = signed("not-the-secret", payload)
    resp = await world.api.post(INTERACTIONS, content=body, headers=headers)
    assert resp.status_code == 401 and resp.json()["reason"] == "bad_signature"
    body, headers = signed(SECRET, payload, at=time.time() - 301)
    resp = await world.api.post(INTERACTIONS, content=body, headers=headers)
    assert resp.status_code == 401 and resp.json()["reason"] == "stale_signature"
    _, good = signed(SECRET, payload)
    resp = await world.api.post(INTERACTIONS, content=body + b"x", headers=good)
    assert resp.status_code == 401
    resp = await world.api.post(INTERACTIONS, content=body)
    assert resp.status_code == 401 and resp.json()["reason"] == "unsigned"
    # Events API: the URL check answers the challenge only when signed.
    check = b'{"type": "url_verification", "challenge": "c-123"}'
    resp = await world.api.post(
        "/v1/channels/slack/events", content=check, headers=sign(SECRET, check)
    )
    assert resp.json() == {"challenge": "c-123"}


async def test_unknown_user_is_refused_visibly_and_recorded(
    world: World, temporal: Client, api: httpx.AsyncClient
) -> None:
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    assert (await world.click("U_NOBODY", ts, "gantral_approve")).status_code == 200
    await until(
        lambda: any("not mapped" in r.get("text", "") for r in world.slack.responses),
        "no ephemeral refusal",
    )
    reply = next(r for r in world.slack.responses if "not mapped" in r.get("text", ""))
    assert reply["response_type"] == "ephemeral"
    assert await refusals_of(api, temporal, "slack:U_NOBODY")
    # The refusal names the request clicked on (issue 21, item 14), not only its text.
    [refused] = await refusals_on(api, temporal, iid, 1)
    assert refused["actor"]["id"] == "slack:U_NOBODY"
    assert refused["payload"]["request_id"] == rid
    assert f"{iid}/{rid}" in refused["payload"]["attempted"]
    pending = (await world.api.get(f"/v1/instances/{iid}/requests/{rid}", headers=API_LEAD)).json()
    assert pending["status"] == "PENDING"


async def test_race_with_the_api_one_wins_the_other_is_told(world: World) -> None:
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    resp = await decide_as_shown(world.api, iid, rid, API_LEAD)
    assert resp.status_code == 200
    assert (await world.click("U_ALICE", ts, "gantral_approve")).status_code == 200
    told = await until(
        lambda: [
            r
            for r in world.slack.responses
            if "already APPROVED by api-lead via api" in r.get("text", "")
        ],
        "the loser was not told who won",
    )
    assert told
    await until(
        lambda: "APPROVED* by api-lead via api" in str(world.slack.messages[ts]["blocks"]),
        "the Slack copy was not updated after the API decision",
    )
    view = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()
    assert [d["channel"] for d in view["decisions"]] == ["api"]


async def test_override_from_the_modal_is_rechecked_by_policy(world: World) -> None:
    iid, rid = await world.pending(amount=10)
    ts, _ = await world.message(rid)
    assert (await world.click("U_ALICE", ts, "gantral_override")).status_code == 200
    opened = await until(lambda: world.slack.of("views.open"), "no modal")
    view = opened[-1]["view"]
    assert view["callback_id"] == "gantral_decision" and '"amount": 10' in str(view["blocks"])

    # Bad JSON is answered in the modal itself; nothing is decided.
    bad = view_submission("U_ALICE", view, {"justification": "x", "arguments": "{nope"})
    body, headers = signed(SECRET, bad)
    resp = await world.api.post(INTERACTIONS, content=body, headers=headers)
    assert resp.json()["response_action"] == "errors"

    edit = '{"amount": 500, "to": "acme"}'
    good = view_submission("U_ALICE", view, {"justification": "pay it all", "arguments": edit})
    body, headers = signed(SECRET, good)
    assert (await world.api.post(INTERACTIONS, content=body, headers=headers)).status_code == 200
    first = await world.outcome(iid, rid)
    # More material now: the edit became a new request for a CFO, not an approval.
    assert first["status"] == "SUPERSEDED"
    follow = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()[
        "pending_request"
    ]
    assert follow["materiality"] == "HIGH" and follow["required_approvers"] == ["CFO"]
    assert follow["arguments"]["amount"] == 500
    await world.message(follow["request_id"])  # the follow-up is posted too
    await until(
        lambda: (
            "SUPERSEDED*: an override changed the arguments"
            in str(world.slack.messages[ts]["blocks"])
        ),
        "old copy not updated",
    )


async def test_slack_down_while_an_instance_waits(world: World) -> None:
    world.slack.down = True
    try:
        iid, rid = await world.pending()
        resp = await decide_as_shown(world.api, iid, rid, API_LEAD)
        assert resp.status_code == 200 and resp.json()["request"]["status"] == "APPROVED"
        await asyncio.sleep(1)
        assert world._find(rid) is None
    finally:
        world.slack.down = False
    ts, _ = await world.message(rid)
    await until(
        lambda: "APPROVED* by api-lead via api" in str(world.slack.messages[ts]["blocks"]),
        "the message did not catch up",
        seconds=90,
    )


async def test_app_home_shows_the_approvers_inbox(world: World) -> None:
    _, rid = await world.pending()
    event = {
        "type": "event_callback",
        "team_id": "T1",
        "event": {"type": "app_home_opened", "user": "U_ALICE", "tab": "home"},
    }
    raw = json.dumps(event).encode()
    headers = {**sign(SECRET, raw), "content-type": "application/json"}
    resp = await world.api.post("/v1/channels/slack/events", content=raw, headers=headers)
    assert resp.status_code == 200
    published = await until(
        lambda: [p for p in world.slack.of("views.publish") if rid in str(p["view"])],
        "App Home does not list the request",
    )
    assert published[-1]["user_id"] == "U_ALICE"


async def test_escalation_in_the_thread_and_timeout_updates_the_message(world: World) -> None:
    body = {"workflow_id": "fast-timeout", "owning_team_id": "payments"}
    iid = (await world.api.post("/v1/instances", json=body, headers=AGENT)).json()["instance_id"]
    resp = await world.api.post(
        f"/v1/instances/{iid}/steps/release/authorize",
        json={"action": "release", "arguments": {"v": 1}},
        headers=AGENT,
    )
    rid = resp.json()["request"]["request_id"]
    ts, _ = await world.message(rid)
    await until(
        lambda: [
            m
            for m in world.slack.of("chat.postMessage")
            if m.get("thread_ts") == ts and "Escalated to tier 1" in m.get("text", "")
        ],
        "no escalation in the thread",
    )
    await until(
        lambda: "on timeout" in str(world.slack.messages[ts]["blocks"]),
        "the message does not show the timeout",
    )
    assert "gantral_approve" not in str(world.slack.messages[ts]["blocks"])


# Sorted first and longer than a message: without key fields, `service` and `version`
# would fall past the cut while Approve still worked.
LONG = {"a_manifest": "x" * 5000, "service": "payments", "version": "9.9.9-untested"}
HIGH = """
materiality: HIGH
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
override_roles: [TECH_LEAD]
key_fields: [service, version]
"""


async def test_long_arguments_key_fields_first_and_no_approve_at_high(
    world: World, temporal: Client, api: httpx.AsyncClient
) -> None:
    workflow = f"slack-long-{uuid.uuid4().hex[:6]}"
    await publish_one_step(world.api, workflow, HIGH)
    iid = await world.start(workflow)
    rid = await world.authorize(iid, arguments=LONG)
    ts, posted = await world.message(rid)
    sections = [b["text"]["text"] for b in posted["blocks"] if b["type"] == "section"]
    keys = next(t for t in sections if t.startswith("*Key fields*"))
    assert 'service: "payments"' in keys and 'version: "9.9.9-untested"' in keys
    assert any("cut: the first" in t for t in sections)
    assert any(f"`gantral requests show {iid}/{rid}`" in t for t in sections)
    actions = next(b for b in posted["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == ["gantral_reject"]

    # An Approve click anyway (an older message, a forged client) is refused, and why.
    resp = await world.click("U_ALICE", ts, "gantral_reject", as_="gantral_approve")
    assert resp.status_code == 200
    told = await world.replied("too long to show here in full")
    assert f"gantral requests approve {iid}/{rid}" in told
    refused = await refusals_on(api, temporal, iid, 1)
    assert refused[-1]["payload"]["reason"] == "arguments_not_shown"
    assert (await world.outcome(iid, rid, wait=0))["status"] == "PENDING"


async def test_long_arguments_approvable_when_the_policy_says_and_override_fits(
    world: World,
) -> None:
    workflow = f"slack-long-ok-{uuid.uuid4().hex[:6]}"
    await publish_one_step(
        world.api, workflow, HIGH + "channels: {slack: {approve_truncated: true}}\n"
    )
    iid = await world.start(workflow)
    rid = await world.authorize(iid, arguments=LONG)
    ts, posted = await world.message(rid)
    assert "gantral_approve" in str(posted["blocks"]) and "Not everything is shown" in str(
        posted["blocks"]
    )
    # Override: Slack's input holds 3,000 characters, so it holds the key fields' arguments
    # and only the keys given change.
    before = len(world.slack.of("views.open"))
    assert (await world.click("U_ALICE", ts, "gantral_override")).status_code == 200
    opened = await until(lambda: world.slack.of("views.open")[before:], "no modal")
    view = opened[-1]["view"]
    field = view["blocks"][1]
    assert json.loads(field["element"]["initial_value"]) == {
        "service": "payments",
        "version": "9.9.9-untested",
    }
    assert "gantral requests override" in field["hint"]["text"]
    edit = {"justification": "pin a tested build", "arguments": '{"version": "9.9.8"}'}
    answer = await world.submit("U_ALICE", view, edit)
    assert answer is None  # accepted: the modal closes
    done = await world.outcome(iid, rid)
    assert done["status"] == "OVERRIDDEN" and done["context_delta"] == {"version": "9.9.8"}

    iid = await world.start(workflow)
    rid = await world.authorize(iid, arguments=LONG)
    ts, _ = await world.message(rid)
    assert (await world.click("U_ALICE", ts, "gantral_approve")).status_code == 200
    assert (await world.outcome(iid, rid))["status"] == "APPROVED"


async def test_blank_justification_is_answered_in_the_modal(world: World) -> None:
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    before = len(world.slack.of("views.open"))
    assert (await world.click("U_ALICE", ts, "gantral_reject")).status_code == 200
    view = (await until(lambda: world.slack.of("views.open")[before:], "no modal"))[-1]["view"]
    answer = await world.submit("U_ALICE", view, {"justification": "  \n "})
    assert answer["response_action"] == "errors" and "justification" in answer["errors"]
    await asyncio.sleep(0.5)
    assert (await world.outcome(iid, rid, wait=0))["status"] == "PENDING"
    assert await world.submit("U_ALICE", view, {"justification": "not today"}) is None
    assert (await world.outcome(iid, rid))["status"] == "REJECTED"


async def test_no_modal_for_who_cannot_decide_or_a_settled_request(world: World) -> None:
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    before = len(world.slack.of("views.open"))
    # Mapped and allowed by the permission table, but the policy needs a TECH_LEAD.
    assert (await world.click("U_SRE", ts, "gantral_reject")).status_code == 200
    told = await world.replied("none of slack-sre's roles may REJECT")
    assert "TECH_LEAD" in told

    resp = await decide_as_shown(world.api, iid, rid, API_LEAD)
    assert resp.status_code == 200
    assert (await world.click("U_ALICE", ts, "gantral_override")).status_code == 200
    await world.replied(f"already APPROVED by api-lead via api at {time.gmtime().tm_year}-")
    assert len(world.slack.of("views.open")) == before  # no form that cannot succeed


async def test_superseded_says_what_happened_not_someone(world: World) -> None:
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    # Alice's client still shows the buttons: the relay updates the message concurrently.
    seen = copy.deepcopy(world.slack.messages[ts])
    new = await world.authorize(iid, amount=11)  # the agent asks again, other arguments
    before = len(world.slack.of("views.open"))
    assert (await world.click("U_ALICE", ts, "gantral_reject", seen=seen)).status_code == 200
    told = await world.replied("already SUPERSEDED: the agent asked again with new arguments")
    assert f"(now request {new})" in told and "someone" not in told
    assert (await world.click("U_ALICE", ts, "gantral_approve", seen=seen)).status_code == 200
    await until(
        lambda: (
            sum(
                "already SUPERSEDED: the agent asked again" in r.get("text", "")
                for r in world.slack.responses
            )
            >= 2
        ),
        "the Approve click was not told what happened",
    )
    assert len(world.slack.of("views.open")) == before
    await until(
        lambda: "SUPERSEDED*: the agent asked again" in str(world.slack.messages[ts]["blocks"]),
        "the old message does not say what happened",
    )


async def delegate_to_slack_deputy(world: World) -> str:
    """A TECH_LEAD of payments (unique per test) hands the role to slack-dep."""
    delegator = f"away-{uuid.uuid4().hex[:6]}"
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = {"deputy": "slack-dep", "roles": ["TECH_LEAD"], "ends_at": ends}
    headers = bearer(delegator, ["TECH_LEAD", "approver"], teams=["payments"])
    resp = await world.api.put("/v1/delegations/me", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    return delegator


async def test_a_deputy_approves_from_slack_for_the_delegator(world: World) -> None:
    iid, rid = await world.pending()
    ts, _ = await world.message(rid)
    # Before any delegation, slack-dep holds no role the policy names.
    await world.click("U_DEPUTY", ts, "gantral_approve")
    await world.replied("role approver is not an approver of this request")
    assert (await world.outcome(iid, rid, wait=0))["status"] == "PENDING"

    delegator = await delegate_to_slack_deputy(world)
    assert (await world.click("U_DEPUTY", ts, "gantral_approve")).status_code == 200
    done = await world.outcome(iid, rid)
    assert done["status"] == "APPROVED", done
    assert (done["decided_by"], done["decided_on_behalf_of"]) == ("slack-dep", delegator)
    assert done["approvals"] == {delegator: "TECH_LEAD"}
    assert done["deputies"] == {delegator: "slack-dep"}
    view = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()
    decision = view["decisions"][-1]
    assert (decision["human_actor_id"], decision["on_behalf_of"]) == ("slack-dep", delegator)
    assert decision["channel"] == "slack" and decision["channel_ref"] == ts
    await world.replied(f"slack-dep as deputy for {delegator}")


async def test_a_message_names_who_stands_in_while_the_request_is_open(world: World) -> None:
    delegator = await delegate_to_slack_deputy(world)
    iid, rid = await world.pending()
    ts, posted = await world.message(rid)
    # The deputy is mentioned (the Slack user mapping names them), with whom they stand in for.
    said = f"<@U_DEPUTY> slack-dep stands in for {delegator} (TECH_LEAD)"
    assert said in str(posted["blocks"]), posted["blocks"]
    assert (await world.click("U_DEPUTY", ts, "gantral_approve")).status_code == 200
    assert (await world.outcome(iid, rid))["status"] == "APPROVED"
    # Settled: the message no longer asks anyone to stand in.
    await until(
        lambda: "Out of office" not in str(world.slack.messages[ts]["blocks"]),
        "the settled message still names deputies",
    )


async def test_a_deputy_who_requested_it_is_refused_in_slack(
    world: World, temporal: Client
) -> None:
    await delegate_to_slack_deputy(world)
    # slack-dep drives the instance by hand through the API: its requester.
    requester = bearer("slack-dep", ["operator", "approver"], teams=["payments"])
    body = {"workflow_id": world.workflow, "owning_team_id": "payments"}
    started = await world.api.post("/v1/instances", json=body, headers=requester)
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    ask = {"action": "pay", "arguments": {"amount": 7, "to": "acme"}}
    asked = await world.api.post(
        f"/v1/instances/{iid}/steps/act/authorize", json=ask, headers=requester
    )
    assert asked.json()["outcome"] == "PENDING", asked.text
    rid = asked.json()["request"]["request_id"]
    ts, _ = await world.message(rid)

    before = len(world.slack.responses)
    assert (await world.click("U_DEPUTY", ts, "gantral_approve")).status_code == 200
    text = await world.replied("slack-dep requested or triggered this instance")
    assert text.startswith("Not recorded: ")
    reply = next(r for r in world.slack.responses[before:] if r.get("text") == text)
    assert reply.get("response_type") == "ephemeral"
    request = await world.outcome(iid, rid, wait=0)
    assert request["status"] == "PENDING" and request["approvals"] == {}
    [refused] = await refusals_on(world.api, temporal, iid, 1)
    assert refused["payload"]["reason"] == "separation_of_duties"
    assert refused["actor"]["id"] == "slack-dep"


async def test_approve_these_n_from_app_home_refuses_only_the_stale_one(world: World) -> None:
    action = f"refund-{uuid.uuid4().hex[:6]}"  # this test's own: no other request shares it

    async def ask(iid: str, amount: int) -> dict[str, Any]:
        body = {"action": action, "arguments": {"amount": amount, "to": "acme"}}
        resp = await world.api.post(
            f"/v1/instances/{iid}/steps/act/authorize", json=body, headers=AGENT
        )
        assert resp.json()["outcome"] == "PENDING", resp.text
        return dict(resp.json()["request"])

    iids = [await world.start(world.workflow) for _ in range(3)]
    shown = {iid: await ask(iid, 10 + n) for n, iid in enumerate(iids)}
    event = {"type": "event_callback", "team_id": "T1",
             "event": {"type": "app_home_opened", "user": "U_ALICE", "tab": "home"}}  # fmt: skip
    raw = json.dumps(event).encode()
    label = f"Approve all 3 shown for {action}"

    def home() -> dict[str, Any] | None:
        views = [p["view"] for p in world.slack.of("views.publish") if label in str(p["view"])]
        return views[-1] if views else None

    for _ in range(60):  # until Temporal's visibility lists all three
        headers = {**sign(SECRET, raw), "content-type": "application/json"}
        await world.api.post("/v1/channels/slack/events", content=raw, headers=headers)
        await asyncio.sleep(0.5)
        if home() is not None:
            break
    view = home()
    assert view is not None, "App Home offers no batch approval"
    button = next(
        e
        for b in view["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["text"]["text"] == label
    )
    opened = len(world.slack.of("views.open"))
    body, headers = signed(SECRET, home_action("U_ALICE", view, button["action_id"]))
    assert (await world.api.post(INTERACTIONS, content=body, headers=headers)).status_code == 200
    modal = (await until(lambda: world.slack.of("views.open")[opened:], "no modal"))[-1]["view"]
    listing = str(modal["blocks"])
    for iid, request in shown.items():  # each request, its arguments and digest prefix
        assert f"{iid}/{request['request_id']}" in listing
        assert request["args_digest"].split(":")[-1][:12] in listing
        assert f'"amount":{request["arguments"]["amount"]}' in listing

    # Between display and submit, the agent asks again for the second with other arguments.
    stale = iids[1]
    changed = await ask(stale, 99)
    answer = await world.submit("U_ALICE", modal, {})
    assert answer["response_action"] == "update" and "Deciding 3" in str(answer["view"])
    done = await until(
        lambda: [u for u in world.slack.of("views.update") if action in str(u["view"])],
        "no outcomes listed",
    )
    outcome = str(done[-1]["view"]["blocks"])
    assert "2 approved, 1 refused" in outcome, outcome
    assert f"Refused `{stale}/{shown[stale]['request_id']}`" in outcome
    for iid in (iids[0], iids[2]):
        assert f"Approved `{iid}/{shown[iid]['request_id']}`" in outcome
        request = await world.outcome(iid, shown[iid]["request_id"])
        assert (request["status"], request["decided_by"]) == ("APPROVED", "slack-alice")
    # The changed request is still waiting, as a refused single decision leaves it.
    assert (await world.outcome(stale, changed["request_id"], wait=0))["status"] == "PENDING"

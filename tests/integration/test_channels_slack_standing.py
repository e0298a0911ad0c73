"""Standing grants from Slack on the real stack (issue 24): "Approve and allow the same…"
on a request's message opens a modal (TTL and uses within the policy's bounds, this agent
or the team); its submission is an APPROVE with a standing grant pinning every argument
as shown, judged by the core as the API's. A later identical call is then allowed
without a human; the core's refusals (a role the policy does not let give standing
grants, a TTL beyond its bound) are told to the user; a policy that allows none shows
no such button, and a forged click opens nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
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
from tests.helpers.audit_reads import audit_of
from tests.helpers.auth import bearer
from tests.helpers.deciding import decide_as_shown
from tests.helpers.polling import long_poll
from tests.helpers.publishing import publish_one_step
from tests.helpers.serving import serve
from tests.helpers.slack_stand_in import SlackStandIn, block_action, signed, view_submission

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SECRET = "slack-signing-secret-for-standing-tests"
TOKEN = "xoxb-standing-test-token"
AGENT = bearer("slack-standing-agent", agent=True)
READER = bearer("slack-standing-reader", ["TECH_LEAD", "approver"])
INTERACTIONS = "/v1/channels/slack/interactions"
APPROVERS = "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
STANDING = APPROVERS + "standing: {max_ttl: 1h, max_uses: 5, roles: [TECH_LEAD]}\n"
CFO_STANDING = APPROVERS + "standing: {max_ttl: 1h, max_uses: 5, roles: [CFO]}\n"
# Two humans must approve: no one human's standing word can stand for them.
TWO_STANDING = (
    "requires_human_approval: true\n"
    "approvers: {n_of: {n: 2, of: [{role: TECH_LEAD}, {role: approver}]}}\n"
    "standing: {max_ttl: 1h, max_uses: 5, roles: [TECH_LEAD]}\n"
)
BUTTON = "gantral_approve_standing"
ARGS = {"amount": 10, "to": "acme", "memo": {"ref": "INV-7"}}


class World:
    def __init__(self, api: httpx.AsyncClient, slack: SlackStandIn, url: str) -> None:
        self.api, self.slack, self.url = api, slack, url

    async def workflow(self, policy: str) -> str:
        wid = f"slack-sg-{uuid.uuid4().hex[:6]}"
        await publish_one_step(self.api, wid, policy)
        return wid

    async def authorize(self, wid: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Authorize `act` with `arguments` in a new instance of `wid`."""
        body = {"workflow_id": wid, "owning_team_id": "payments"}
        started = await self.api.post("/v1/instances", json=body, headers=AGENT)
        assert started.status_code == 201, started.text
        iid = started.json()["instance_id"]
        resp = await self.api.post(
            f"/v1/instances/{iid}/steps/act/authorize",
            json={"action": "pay", "arguments": arguments},
            headers=AGENT,
        )
        assert resp.status_code == 200, resp.text
        return {"instance_id": iid, **resp.json()}

    async def pending(self, wid: str) -> tuple[str, str, str, dict[str, Any]]:
        """A pending request of a new instance, and the ts and body of its message."""
        asked = await self.authorize(wid, ARGS)
        assert asked["outcome"] == "PENDING", asked
        rid = asked["request"]["request_id"]
        ts, message = await until(lambda: self._find(rid), "the request was not posted")
        return asked["instance_id"], rid, ts, message

    def _find(self, request_id: str) -> tuple[str, dict[str, Any]] | None:
        for ts, body in self.slack.messages.items():
            if request_id in str(body.get("blocks")):
                return ts, body
        return None

    async def click(
        self, user: str, ts: str, action: str, *, as_: str = "", value: str = ""
    ) -> list[dict[str, Any]]:
        """`user` clicks `action`'s button (`as_`: the click carries another action id,
        `value` another button value, as a forged client's); the views opened since."""
        before = len(self.slack.of("views.open"))
        url = f"{self.url}/respond/{uuid.uuid4().hex}"
        payload = block_action(user, self.slack.messages[ts], ts, action, url)
        if as_:
            payload["actions"][0]["action_id"] = as_
        if value:
            payload["actions"][0]["value"] = value
        body, headers = signed(SECRET, payload)
        resp = await self.api.post(INTERACTIONS, content=body, headers=headers)
        assert resp.status_code == 200, resp.text
        return [call["view"] for call in self.slack.of("views.open")[before:]]

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

    async def request(self, iid: str, rid: str, wait: int = 20) -> dict[str, Any]:
        return await long_poll(self.api, f"/v1/instances/{iid}/requests/{rid}", READER, wait)


async def until(probe: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    for _ in range(int(seconds * 10)):
        found = probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(what)


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in message["blocks"]
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def world(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[World]:
    slack = SlackStandIn(token=TOKEN)
    async with serve(slack.app()) as url:
        configured = settings.model_copy(
            update={
                "slack": SlackSettings.model_validate(
                    {
                        "signing_secret": SECRET,
                        "bot_token": TOKEN,
                        "api_url": f"{url}/api/",
                        "team_channels": {"payments": "C_PAY"},
                        "users": {
                            "U_ALICE": {
                                "actor": "slack-sg-alice",
                                "roles": ["TECH_LEAD", "approver"],
                                "teams": ["payments"],
                            },
                        },
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
            try:
                yield World(api, slack, url)
            finally:
                await temporal.get_workflow_handle(relay_id(configured, "slack")).terminate()


async def test_approve_and_allow_the_same_serves_a_later_identical_call(world: World) -> None:
    wid = await world.workflow(STANDING)
    iid, rid, ts, message = await world.pending(wid)
    assert buttons(message) == ["gantral_approve", BUTTON, "gantral_reject", "gantral_override"]

    [view] = await world.click("U_ALICE", ts, BUTTON)
    assert view["callback_id"] == "gantral_standing"
    shown = str(view["blocks"])
    # Every argument as it will be pinned, and the policy's bounds.
    assert "amount = 10" in shown and 'to = "acme"' in shown and 'memo.ref = "INV-7"' in shown
    assert "1h and 5 uses at most" in shown
    ttl = next(b for b in view["blocks"] if b.get("block_id") == "ttl")["element"]
    assert [o["value"] for o in ttl["options"]] == ["5m", "15m", "30m", "1h"]
    uses = next(b for b in view["blocks"] if b.get("block_id") == "uses")["element"]
    assert (uses["min_value"], uses["max_value"]) == ("1", "5")

    answer = await world.submit(
        "U_ALICE", view, {"ttl": "30m", "uses": "2", "serves": "agent", "justification": "ok"}
    )
    assert answer is None
    done = await world.request(iid, rid)
    assert (done["status"], done["decided_by"], done["decided_via"]) == (
        "APPROVED", "slack-sg-alice", "slack",
    )  # fmt: skip
    told = await world.replied("Standing grant")
    given = (await audit_of(world.api, iid, "STANDING_GRANT_GIVEN"))[0]["payload"]
    assert given["standing_id"] in told and given["approver"] == "slack-sg-alice"
    assert (given["agent"], given["max_uses"]) == ("slack-standing-agent", 2)
    assert given["pattern"] == {
        "amount": {"equals": 10}, "to": {"equals": "acme"}, "memo.ref": {"equals": "INV-7"},
    }  # fmt: skip

    # A later call with the same arguments, in another instance: allowed without a human.
    later = await world.authorize(wid, ARGS)
    assert (later["outcome"], later["standing_id"]) == ("ALLOW", given["standing_id"]), later
    allowed = await audit_of(world.api, later["instance_id"], "ALLOWED_BY_STANDING_GRANT")
    assert allowed[0]["payload"]["approver"] == "slack-sg-alice"
    # Anything else still needs a human: the pattern pins every argument exactly.
    other = await world.authorize(wid, {**ARGS, "amount": 9})
    assert other["outcome"] == "PENDING", other


async def test_the_cores_refusals_are_told_to_the_user(world: World) -> None:
    # The policy lets only a CFO give standing grants: Alice (TECH_LEAD) is refused.
    cfo = await world.workflow(CFO_STANDING)
    iid, rid, ts, _ = await world.pending(cfo)
    [view] = await world.click("U_ALICE", ts, BUTTON)
    await world.submit("U_ALICE", view, {"ttl": "1h", "uses": "5", "serves": "team"})
    told = await world.replied("may not give standing grants")
    assert told.startswith("Not recorded:") and "CFO" in told
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"

    # A TTL beyond the policy's (a forged form: Slack offers none): refused by the core.
    wid = await world.workflow(STANDING)
    iid, rid, ts, _ = await world.pending(wid)
    [view] = await world.click("U_ALICE", ts, BUTTON)
    await world.submit("U_ALICE", view, {"ttl": "2h", "uses": "5", "serves": "agent"})
    told = await world.replied("the policy allows at most")
    assert told.startswith("Not recorded:")
    # A form that says nothing sensible is answered in the modal, which stays open.
    answer = await world.submit("U_ALICE", view, {"ttl": "1h", "uses": "many"})
    assert answer["response_action"] == "errors" and "uses" in answer["errors"]
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"
    listed = (await world.api.get("/v1/standing-grants?team=payments", headers=READER)).json()
    assert [g for g in listed if g["instance_id"] == iid] == []


async def test_no_button_when_the_policy_allows_none(world: World) -> None:
    wid = await world.workflow(APPROVERS)
    iid, rid, ts, message = await world.pending(wid)
    assert BUTTON not in buttons(message) and "gantral_approve" in buttons(message)
    # A forged click opens no form and decides nothing.
    assert await world.click("U_ALICE", ts, "gantral_approve", as_=BUTTON) == []
    await world.replied("allows no standing grant")
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"


async def test_no_button_where_the_request_needs_more_than_one_approver(world: World) -> None:
    wid = await world.workflow(TWO_STANDING)
    iid, rid, ts, message = await world.pending(wid)
    assert BUTTON not in buttons(message) and "gantral_approve" in buttons(message)
    # A forged click opens no form and says why.
    assert await world.click("U_ALICE", ts, "gantral_approve", as_=BUTTON) == []
    await world.replied("needs more than one approver")
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"


async def test_a_form_shows_only_what_the_message_showed_and_a_late_one_decides_nothing(
    world: World,
) -> None:
    wid = await world.workflow(STANDING)
    iid, rid, ts, _ = await world.pending(wid)
    # A click naming a digest other than the request's (a forged or outdated message):
    # no form listing arguments other than those the message showed.
    forged = json.dumps({"i": iid, "r": rid, "d": "0" * 64})
    assert await world.click("U_ALICE", ts, BUTTON, value=forged) == []
    await world.replied("changed since this message showed it")

    [view] = await world.click("U_ALICE", ts, BUTTON)
    assert json.loads(view["private_metadata"])["d"] in str(view["blocks"])
    # Out of bounds: answered in the modal, which stays open.
    answer = await world.submit("U_ALICE", view, {"ttl": "30m", "uses": "0", "serves": "agent"})
    assert answer == {"response_action": "errors", "errors": {"uses": "At least 1 use."}}
    # A shape Slack never sends (signed all the same): answered in the modal, not a 500.
    odd = view_submission("U_ALICE", view, {})
    odd["view"]["state"] = "x"
    body, headers = signed(SECRET, odd)
    resp = await world.api.post(INTERACTIONS, content=body, headers=headers)
    assert resp.status_code == 200 and set(resp.json()["errors"]) == {"ttl", "uses"}, resp.text
    # Decided elsewhere before the form is submitted: nothing more is recorded.
    resp = await decide_as_shown(world.api, iid, rid, READER, justification="by API")
    assert resp.status_code == 200, resp.text
    await world.submit("U_ALICE", view, {"ttl": "30m", "uses": "2", "serves": "agent"})
    told = await world.replied("Not recorded")
    assert "Standing grant" not in told
    listed = (await world.api.get("/v1/standing-grants?team=payments", headers=READER)).json()
    assert [g for g in listed if g["instance_id"] == iid] == []

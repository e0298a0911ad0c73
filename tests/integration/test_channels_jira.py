"""Jira on the real stack: the relay opens an issue per request against a local server
speaking Jira's REST API; Jira's webhook (signed with the shared secret) turns a transition
into a decision; a request settled elsewhere transitions and comments the issue; an
escalation is commented, and a timeout transitions the issue and says how it ended. A
deputy's transition decides for their delegator, both names recorded. A
transition that is not recorded (an unmapped user, a reject without a comment, a request
already decided) moves the issue back with a comment saying why; a delivery that changes
nothing answers 200 (Jira retries a 409)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

from gantral.api.app import create_app
from gantral.channels.relay.workflow import ChannelRelayWorkflow
from gantral.domain.limits import MAX_JUSTIFICATION_CHARS
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.channels import JiraSettings
from gantral.workers.channels import relay_id, run_channels
from tests.helpers.access_log import refusals_of, refusals_on
from tests.helpers.audit_reads import audit_of
from tests.helpers.auth import bearer
from tests.helpers.deciding import decide_as_shown
from tests.helpers.jira_stand_in import JiraStandIn, issue_updated
from tests.helpers.polling import long_poll
from tests.helpers.publishing import publish_one_step
from tests.helpers.serving import serve

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SECRET = "jira-webhook-secret"
AGENT = bearer("jira-agent", agent=True)
API_LEAD = bearer("jira-api-lead", ["TECH_LEAD", "approver"])
POLICY = "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
HOOK = "/v1/channels/jira/webhook"


class World:
    def __init__(
        self,
        api: httpx.AsyncClient,
        jira: JiraStandIn,
        workflow: str,
        temporal: Client,
        relay: str,
    ) -> None:
        self.api, self.jira, self.workflow = api, jira, workflow
        self.temporal, self.relay = temporal, relay

    async def pending(
        self,
        workflow: str | None = None,
        step: str = "act",
        action: str = "pay",
        requester: dict[str, str] = AGENT,
        webhooks: bool = True,
    ) -> tuple[str, str, str]:
        """A request waiting on `step` of a new instance (of this world's workflow unless
        named; asked by `requester`), and the key of the issue the relay opened for it.
        `webhooks`: the test sends webhooks about it, so wait until the relay answers for
        the issue (a request settled by itself meanwhile would never be answered for)."""
        body = {"workflow_id": workflow or self.workflow, "owning_team_id": "payments"}
        started = await self.api.post("/v1/instances", json=body, headers=requester)
        iid = started.json()["instance_id"]
        resp = await self.api.post(
            f"/v1/instances/{iid}/steps/{step}/authorize",
            json={"action": action, "arguments": {"amount": 5}},
            headers=requester,
        )
        rid = resp.json()["request"]["request_id"]
        key = await until(lambda: self._issue(iid, rid), "no issue was opened")
        if not webhooks:
            return str(iid), str(rid), key
        # The stand-in holds the issue as soon as the relay's activity created it; the
        # relay records which request it shows only when that activity returns. A webhook
        # in between is (rightly) a 404 unknown_issue, so wait for what a webhook reads.
        handle = self.temporal.get_workflow_handle_for(ChannelRelayWorkflow.run, self.relay)
        for _ in range(300):
            if await handle.query(ChannelRelayWorkflow.shown_in, key) is not None:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the relay never recorded issue {key}")
        return str(iid), str(rid), key

    def _issue(self, iid: str, rid: str) -> str | None:
        for key, fields in self.jira.issues.items():
            if f"{iid}/{rid}" in str(fields["description"]):
                return key
        return None

    async def request(self, iid: str, rid: str, wait: int = 20) -> dict[str, Any]:
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
    jira = JiraStandIn(email="gantral-bot@example.com", token="jira-api-token")
    async with serve(jira.app()) as url:
        configured = settings.model_copy(
            update={
                "jira": JiraSettings.model_validate(
                    {
                        "base_url": url,
                        "email": jira.email,
                        "api_token": jira.token,
                        "webhook_secret": SECRET,
                        "project": "GOV",
                        "bot_account_id": "acct-bot",
                        "users": {
                            "acct-rita": {
                                "actor": "jira-rita",
                                "roles": ["TECH_LEAD", "approver"],
                                "teams": ["payments"],
                            },
                            # A deputy: decides the policy's requests only as someone's.
                            "acct-dep": {
                                "actor": "jira-dep",
                                "roles": ["approver"],
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
            workflow = f"jira-{uuid.uuid4().hex[:6]}"
            await publish_one_step(api, workflow, POLICY)
            try:
                yield World(api, jira, workflow, temporal, relay_id(configured, "jira"))
            finally:
                await temporal.get_workflow_handle(relay_id(configured, "jira")).terminate()


async def test_reject_from_jira_and_redelivery_ignored(world: World) -> None:
    iid, rid, key = await world.pending()
    issue = world.jira.issues[key]
    assert issue["project"] == {"key": "GOV"} and "Arguments digest" in str(issue["description"])

    body, headers = world.jira.human_moves(SECRET, key, "acct-rita", "Rejected", "wrong account")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["decision"]["channel"] == "jira"
    assert resp.json()["decision"]["channel_ref"] == key
    done = await world.request(iid, rid)
    assert done["status"] == "REJECTED" and done["decided_by"] == "jira-rita"
    assert done["decided_via"] == "jira"

    # Decided in Jira itself: the issue keeps its status and gets the record as a comment.
    await until(lambda: world.jira.comments.get(key), "no comment after the decision")
    assert "REJECTED by jira-rita via jira" in world.jira.comments[key][-1]
    # Jira redelivers the same webhook (after the relay settled the issue): the first
    # outcome, nothing recorded twice.
    again = await world.api.post(HOOK, content=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["decision"] == resp.json()["decision"]
    view = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()
    assert len(view["decisions"]) == 1
    assert world.jira.issues[key]["status"] == "Rejected"
    assert [t for t in world.jira.transitions if t[0] == key] == []  # Gantral moved nothing


async def test_issue_transitioned_and_commented_after_a_decision_elsewhere(world: World) -> None:
    iid, rid, key = await world.pending()
    resp = await decide_as_shown(world.api, iid, rid, API_LEAD)
    assert resp.status_code == 200
    await until(lambda: world.jira.issues[key]["status"] == "Approved", "issue not transitioned")
    await until(lambda: world.jira.comments.get(key), "no comment")
    assert "APPROVED by jira-api-lead via api" in world.jira.comments[key][-1]

    # The transition Gantral made comes back as a webhook from its own account: ignored.
    body_, headers = issue_updated(SECRET, key, "acct-bot", "Approved")
    assert (await world.api.post(HOOK, content=body_, headers=headers)).status_code == 204
    # A human transition after that changes nothing: 200 (Jira retries a 409 forever), the
    # issue goes back to the outcome's status, and the comment says who decided first.
    late, headers = world.jira.human_moves(SECRET, key, "acct-rita", "Rejected", "too late")
    resp = await world.api.post(HOOK, content=late, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["outcome"] == "unchanged" and resp.json()["issue"] == key
    assert "already APPROVED by jira-api-lead via api at " in resp.json()["message"]
    assert world.jira.issues[key]["status"] == "Approved"
    assert (
        "Not recorded: this request is already APPROVED by jira-api-lead via api"
        in (world.jira.comments[key][-1])
    )
    view = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()
    assert len(view["decisions"]) == 1


async def test_unsigned_forged_and_unknown_users_refused(
    world: World, api: httpx.AsyncClient, temporal: Client
) -> None:
    iid, rid, key = await world.pending()
    body, headers = issue_updated("not-the-secret", key, "acct-rita", "Approved")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 401 and resp.json()["reason"] == "bad_signature"
    unsigned = {k: v for k, v in headers.items() if k != "x-hub-signature"}
    resp = await world.api.post(HOOK, content=body, headers=unsigned)
    assert resp.status_code == 401 and resp.json()["reason"] == "unsigned"

    body, headers = world.jira.human_moves(SECRET, key, "acct-stranger", "Approved")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 403 and resp.json()["reason"] == "unknown_user"
    assert await refusals_of(api, temporal, "jira:acct-stranger")
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"
    # The issue does not claim an approval that did not happen: back, and why.
    assert world.jira.issues[key]["status"] == "To Do"
    assert (key, "Approved", "To Do") in world.jira.transitions
    assert "Jira user acct-stranger is not mapped" in world.jira.comments[key][-1]
    assert "The issue is back in To Do." in world.jira.comments[key][-1]


async def test_reject_without_a_comment_is_refused_and_moved_back(
    world: World, api: httpx.AsyncClient, temporal: Client
) -> None:
    iid, rid, key = await world.pending()
    body, headers = world.jira.human_moves(SECRET, key, "acct-rita", "Rejected")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 422 and resp.json()["reason"] == "justification_required"
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"
    assert world.jira.issues[key]["status"] == "To Do"
    assert "a rejection needs a reason" in world.jira.comments[key][-1]
    refused = await refusals_of(api, temporal, "jira-rita")
    assert any(r["payload"]["reason"] == "justification_required" for r in refused)

    # With a comment the same transition decides, and the comment is the justification.
    body, headers = world.jira.human_moves(SECRET, key, "acct-rita", "Rejected", "not now")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["decision"]["justification"] == "not now"
    view = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()
    assert [d["justification"] for d in view["decisions"]] == ["not now"]


async def test_a_comment_longer_than_a_decision_records_is_refused_and_moved_back(
    world: World, api: httpx.AsyncClient, temporal: Client
) -> None:
    iid, rid, key = await world.pending()
    essay = "x" * (MAX_JUSTIFICATION_CHARS + 1)  # Jira takes comments of 32,767 characters
    body, headers = world.jira.human_moves(SECRET, key, "acct-rita", "Rejected", essay)
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["reason"] == "field_too_large", resp.json()
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"
    assert world.jira.issues[key]["status"] == "To Do"
    assert "a decision records at most 10,000" in world.jira.comments[key][-1]
    refused = await refusals_of(api, temporal, "jira-rita")
    assert any(r["payload"]["reason"] == "field_too_large" for r in refused)
    # The longest one recorded is taken whole.
    most = "y" * MAX_JUSTIFICATION_CHARS
    body, headers = world.jira.human_moves(SECRET, key, "acct-rita", "Rejected", most)
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    view = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()
    assert [d["justification"] for d in view["decisions"]] == [most]


async def test_a_decision_names_what_its_issue_showed_and_a_superseded_one_is_refused(
    world: World,
) -> None:
    """Issue 21, item 1: a Jira decision is bound to the request and the arguments digest
    its issue showed (as the relay recorded them when it opened the issue); after the agent
    asked again with other arguments, a transition of the old issue records nothing."""
    iid, rid, key = await world.pending()
    shown = world.jira.issues[key]["description"]
    first_digest = (await world.request(iid, rid, wait=0))["args_digest"]
    assert f"Arguments digest: {first_digest}" in str(shown)
    # The agent asks again, with other arguments: a new request, and a new issue for it.
    asked = await world.api.post(
        f"/v1/instances/{iid}/steps/act/authorize",
        json={"action": "pay", "arguments": {"amount": 9000}},
        headers=AGENT,
    )
    new_rid, new_digest = asked.json()["request"]["request_id"], asked.json()["args_digest"]
    assert new_rid != rid and new_digest != first_digest
    new_key = await until(lambda: world._issue(iid, new_rid), "no issue for the new request")
    assert f"Arguments digest: {new_digest}" in str(world.jira.issues[new_key]["description"])
    await until(lambda: world.jira.issues[key]["status"] == "Rejected", "old issue not settled")

    # A human who still had the old issue open approves what it showed: nothing recorded,
    # the issue goes back to its outcome's status, and the comment says why and what now.
    body, headers = world.jira.human_moves(SECRET, key, "acct-rita", "Approved")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["outcome"] == "unchanged"
    assert world.jira.issues[key]["status"] == "Rejected"
    said = world.jira.comments[key][-1]
    assert "Not recorded" in said and "the agent asked again with new arguments" in said
    assert f"now request {new_rid}" in said
    view = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()
    assert view["decisions"] == [] and view["pending_request"]["request_id"] == new_rid

    # The new issue's approval is recorded, naming the digest that issue showed.
    body, headers = world.jira.human_moves(SECRET, new_key, "acct-rita", "Approved")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["decision"]["request_id"] == new_rid

    event = (await audit_of(world.api, iid, "DECISION_RECORDED"))[0]
    signed = event["payload"]["attested"]["body"]
    assert (signed["channel"], signed["channel_ref"]) == ("jira", new_key)
    assert signed["seen_args_digest"] == new_digest


async def delegate_to_jira_deputy(world: World) -> str:
    """A TECH_LEAD of payments (unique per test) hands the role to jira-dep."""
    delegator = f"away-{uuid.uuid4().hex[:6]}"
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = {"deputy": "jira-dep", "roles": ["TECH_LEAD"], "ends_at": ends}
    headers = bearer(delegator, ["TECH_LEAD", "approver"], teams=["payments"])
    resp = await world.api.put("/v1/delegations/me", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    return delegator


async def test_a_deputy_approves_from_jira_for_the_delegator(world: World) -> None:
    iid, rid, key = await world.pending()
    # Before any delegation, jira-dep holds no role the policy names: refused, moved back.
    body, headers = world.jira.human_moves(SECRET, key, "acct-dep", "Approved")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 403, resp.text
    assert world.jira.issues[key]["status"] == "To Do"
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"

    delegator = await delegate_to_jira_deputy(world)
    body, headers = world.jira.human_moves(SECRET, key, "acct-dep", "Approved")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    done = await world.request(iid, rid)
    assert done["status"] == "APPROVED", done
    assert (done["decided_by"], done["decided_on_behalf_of"]) == ("jira-dep", delegator)
    assert done["approvals"] == {delegator: "TECH_LEAD"}
    assert done["deputies"] == {delegator: "jira-dep"}
    view = (await world.api.get(f"/v1/instances/{iid}", headers=API_LEAD)).json()
    decision = view["decisions"][-1]
    assert (decision["human_actor_id"], decision["on_behalf_of"]) == ("jira-dep", delegator)
    assert (decision["channel"], decision["channel_ref"]) == ("jira", key)
    assert world.jira.issues[key]["status"] == "Approved"

    event = (await audit_of(world.api, iid, "DECISION_RECORDED"))[0]
    recorded_as = event["payload"]
    assert (recorded_as["human_actor_id"], recorded_as["on_behalf_of"]) == ("jira-dep", delegator)
    assert recorded_as["delegation_id"] and recorded_as["channel_ref"] == key


async def test_an_issue_names_who_stands_in_for_an_absent_approver(world: World) -> None:
    delegator = await delegate_to_jira_deputy(world)
    _, _, key = await world.pending()
    said = f"Out of office: jira-dep stands in for {delegator} (TECH_LEAD)."
    assert said in str(world.jira.issues[key]["description"])


async def test_a_deputy_who_requested_it_is_refused_in_jira(world: World, temporal: Client) -> None:
    await delegate_to_jira_deputy(world)
    # jira-dep drives the instance by hand through the API: its requester.
    requester = bearer("jira-dep", ["operator", "approver"], teams=["payments"])
    iid, rid, key = await world.pending(requester=requester)
    body, headers = world.jira.human_moves(SECRET, key, "acct-dep", "Approved")
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 403 and resp.json()["reason"] == "separation_of_duties"
    request = await world.request(iid, rid, wait=0)
    assert request["status"] == "PENDING" and request["approvals"] == {}
    # The issue does not claim an approval that did not happen: back, and why.
    assert world.jira.issues[key]["status"] == "To Do"
    said = world.jira.comments[key][-1]
    assert said.startswith("Not recorded: ") and "jira-dep requested or triggered" in said
    assert "The issue is back in To Do." in said
    [refused] = await refusals_on(world.api, temporal, iid, 1)
    assert refused["payload"]["reason"] == "separation_of_duties"
    assert refused["actor"]["id"] == "jira-dep"


async def test_escalation_commented_and_timeout_settles_the_issue(world: World) -> None:
    # Escalates after 1 s and expires 5 s later: the relay comments an escalation only
    # while the request is still open, so a busy machine gets time to relay it first.
    workflow = f"jira-escalating-{uuid.uuid4().hex[:8]}"
    policy = (
        "materiality: MEDIUM\nrequires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
        "timeouts: {primary: 1s, escalation: 5s}\n"
    )
    await publish_one_step(world.api, workflow, policy)
    # No webhook is sent: the request may escalate and expire before the relay is asked.
    _, _, key = await world.pending(workflow, webhooks=False)
    await until(
        lambda: any("Escalated to tier 1" in c for c in world.jira.comments.get(key, [])),
        "the escalation was not commented on the issue",
    )
    # The deadline passes undecided: the issue leaves "To Do" and says how it ended.
    await until(lambda: world.jira.issues[key]["status"] == "Rejected", "issue not transitioned")
    await until(lambda: len(world.jira.comments[key]) > 1, "no comment on how it ended")
    comments = world.jira.comments[key]
    assert "Escalated to tier 1" in comments[0], comments
    assert comments[-1] == "EXPIRED by gantral via timeout.", comments


STANDING = POLICY + "standing: {max_ttl: 1h, max_uses: 5, roles: [TECH_LEAD]}\n"


async def test_an_approve_with_a_standing_line_serves_a_later_identical_call(
    world: World,
) -> None:
    *_, plain_key = await world.pending(webhooks=False)
    assert "standing:" not in str(world.jira.issues[plain_key]["description"])
    wid = f"jira-sg-{uuid.uuid4().hex[:6]}"
    await publish_one_step(world.api, wid, STANDING)
    iid, _, key = await world.pending(workflow=wid)
    # The issue says how, and within which bounds.
    said = str(world.jira.issues[key]["description"])
    assert "standing: ttl=30m uses=5 serves=agent" in said and "at most 1h and 5 uses" in said

    comment = "routine payout\nstanding: ttl=30m uses=2 serves=agent"
    body, headers = world.jira.human_moves(SECRET, key, "acct-rita", "Approved", comment)
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 200, resp.text
    decided = resp.json()
    assert decided["decision"]["justification"] == "routine payout"
    grant = decided["standing_grant"]
    assert (grant["approver"], grant["agent"], grant["max_uses"]) == ("jira-rita", "jira-agent", 2)
    assert grant["pattern"] == {"amount": {"equals": 5}}
    given = await audit_of(world.api, iid, "STANDING_GRANT_GIVEN")
    assert given[0]["payload"]["standing_id"] == grant["standing_id"]

    # A later call of the agent with the same arguments: allowed without a human.
    started = await world.api.post(
        "/v1/instances", json={"workflow_id": wid, "owning_team_id": "payments"}, headers=AGENT
    )
    later_iid = started.json()["instance_id"]
    later = await world.api.post(
        f"/v1/instances/{later_iid}/steps/act/authorize",
        json={"action": "pay", "arguments": {"amount": 5}},
        headers=AGENT,
    )
    assert (later.json()["outcome"], later.json()["standing_id"]) == (
        "ALLOW", grant["standing_id"],
    ), later.text  # fmt: skip
    allowed = await audit_of(world.api, later_iid, "ALLOWED_BY_STANDING_GRANT")
    assert allowed[0]["payload"]["approver"] == "jira-rita"


async def test_a_standing_line_refused_moves_the_issue_back_and_says_why(
    world: World, api: httpx.AsyncClient, temporal: Client
) -> None:
    wid = f"jira-sg-{uuid.uuid4().hex[:6]}"
    await publish_one_step(world.api, wid, STANDING)
    iid, rid, key = await world.pending(workflow=wid)
    # A line Gantral cannot read: nothing is approved (not even without the grant).
    body, headers = world.jira.human_moves(
        SECRET, key, "acct-rita", "Approved", "standing: ttl=30m forever"
    )
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 422 and resp.json()["reason"] == "invalid_input", resp.text
    assert world.jira.issues[key]["status"] == "To Do"
    assert "write the line as `standing: ttl=30m uses=5" in world.jira.comments[key][-1]
    # A TTL beyond the policy's: the core refuses, the issue goes back, the comment says why.
    body, headers = world.jira.human_moves(
        SECRET, key, "acct-rita", "Approved", "standing: ttl=2h uses=5"
    )
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 422 and resp.json()["reason"] == "standing_exceeds_policy"
    assert world.jira.issues[key]["status"] == "To Do"
    assert "Not recorded: the policy allows at most" in world.jira.comments[key][-1]
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"
    refused = await refusals_of(api, temporal, "jira-rita")
    reasons = {r["payload"]["reason"] for r in refused}
    assert {"invalid_input", "standing_exceeds_policy"} <= reasons

    # A policy that allows none: the core refuses the line, as from the API.
    iid, rid, key = await world.pending()
    body, headers = world.jira.human_moves(
        SECRET, key, "acct-rita", "Approved", "standing: ttl=30m uses=2"
    )
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 403 and resp.json()["reason"] == "standing_not_allowed"
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"


async def test_a_standing_line_on_a_reject_or_unreadable_is_refused_never_a_500(
    world: World,
) -> None:
    wid = f"jira-sg-{uuid.uuid4().hex[:6]}"
    await publish_one_step(world.api, wid, STANDING)
    iid, rid, key = await world.pending(workflow=wid)
    # A reject whose comment asks for a standing grant: the line is not read as its
    # reason, nor dropped; the reject is refused and the issue goes back, saying why.
    comment = "no thanks\nstanding: ttl=30m uses=2"
    body, headers = world.jira.human_moves(SECRET, key, "acct-rita", "Rejected", comment)
    resp = await world.api.post(HOOK, content=body, headers=headers)
    assert resp.status_code == 422 and resp.json()["reason"] == "standing_not_allowed", resp.text
    assert world.jira.issues[key]["status"] == "To Do"
    assert "only an approve gives a standing grant" in world.jira.comments[key][-1]
    # Uses Python's `isdigit` takes and `int` refuses: a clear 422, not a 500.
    for uses in ("\u00b2", "9" * 5000):
        body, headers = world.jira.human_moves(
            SECRET, key, "acct-rita", "Approved", f"standing: ttl=30m uses={uses}"
        )
        resp = await world.api.post(HOOK, content=body, headers=headers)
        assert resp.status_code == 422 and resp.json()["reason"] == "invalid_input", resp.text
        assert "uses must be a whole number" in world.jira.comments[key][-1]
        assert len(world.jira.comments[key][-1]) < 400
    assert (await world.request(iid, rid, wait=0))["status"] == "PENDING"

"""Channels never go silent (issue 21, items 9 and 10), on the real stack against the Slack
and Jira stand-ins failing as the vendors document:

- a permanent failure (`not_in_channel`, a deleted message, a deleted issue, an unknown
  project, a field over Jira's 32,767 characters) ends that one delivery with a fallback and
  a count in `gantral_channel_undeliverable_total`; the channel's next request goes out at
  once instead of waiting behind it forever;
- a 429's `Retry-After` is honoured (the gap to the next attempt is measured);
- a post answered slower than the client's timeout leaves one live message, and when the
  lost attempt's copy lands late anyway, every copy shows the decision.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

from gantral.observability.metrics import ChannelMetrics
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.channels import JiraSettings, SlackSettings
from gantral.workers.channels import relay_id, run_channels
from tests.helpers.auth import bearer
from tests.helpers.deciding import decide_as_shown
from tests.helpers.jira_stand_in import TEXT_LIMIT, JiraStandIn
from tests.helpers.publishing import publish_one_step
from tests.helpers.serving import api_client, serve
from tests.helpers.slack_stand_in import SlackStandIn

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

AGENT = bearer("delivery-agent", agent=True, teams=("payments", "ghosts"))
LEAD = bearer("delivery-lead", ["TECH_LEAD", "approver"], teams=("payments", "ghosts"))
POLICY = "requires_human_approval: true\napprovers: [{role: TECH_LEAD}]\n"
SLACK_TIMEOUT = 1.5  # seconds; production default 10
JIRA_TIMEOUT = 1.5
# The relay's first retry comes after Temporal's initial interval (1 s): a Retry-After of
# 3 s is measurably longer.
RETRY_AFTER = 3
# Long enough to be held back; far shorter than the forever a stalled channel waits.
PROMPTLY = 20.0


async def until(probe: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    for _ in range(int(seconds * 10)):
        found = probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(what)


class Stack:
    def __init__(self, api: httpx.AsyncClient, metrics: ChannelMetrics) -> None:
        self.api, self.metrics = api, metrics

    async def pending(
        self, workflow: str, arguments: dict[str, Any] | None = None, team: str = "payments"
    ) -> tuple[str, str]:
        body = {"workflow_id": workflow, "owning_team_id": team}
        resp = await self.api.post("/v1/instances", json=body, headers=AGENT)
        assert resp.status_code in (200, 201), resp.text
        iid = str(resp.json()["instance_id"])
        resp = await self.api.post(
            f"/v1/instances/{iid}/steps/act/authorize",
            json={"action": "pay", "arguments": arguments or {"amount": 5}},
            headers=AGENT,
        )
        assert resp.json()["outcome"] == "PENDING", resp.text
        return iid, str(resp.json()["request"]["request_id"])

    async def approve(self, iid: str, rid: str) -> None:
        resp = await decide_as_shown(self.api, iid, rid, LEAD)
        assert resp.status_code == 200, resp.text

    def count(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


class SlackWorld(Stack):
    def __init__(
        self, api: httpx.AsyncClient, metrics: ChannelMetrics, slack: SlackStandIn, wf: str
    ) -> None:
        super().__init__(api, metrics)
        self.slack, self.workflow, self.gone = slack, wf, f"{wf}-gone"

    async def message(self, rid: str, seconds: float = PROMPTLY) -> tuple[str, dict[str, Any]]:
        ts = await until(lambda: self.slack.copies(rid), f"{rid} was not posted", seconds)
        return ts[0], self.slack.messages[ts[0]]

    def undeliverable(self, call: str, reason: str, fallback: str = "posted") -> float:
        labels = {"channel": "slack", "call": call, "reason": reason, "fallback": fallback}
        return self.count("gantral_channel_undeliverable_total", **labels)


@pytest_asyncio.fixture(loop_scope="session")
async def slack_world(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[SlackWorld]:
    slack = SlackStandIn(token="xoxb-delivery", absent={"C0GONE"})
    metrics = ChannelMetrics()
    async with serve(slack.app()) as url:
        configured = settings.model_copy(
            update={
                "slack": SlackSettings.model_validate(
                    {
                        "signing_secret": "delivery-secret",
                        "bot_token": slack.token,
                        "api_url": f"{url}/api/",
                        "team_channels": {"payments": "C_PAY"},
                        "default_channel": "C_ALL",
                        "timeout_seconds": SLACK_TIMEOUT,
                    }
                )
            }
        )
        async with (
            api_client(configured, temporal, audit_config, base_url="http://g") as api,
            run_channels(temporal, configured, audit_config, metrics),
        ):
            workflow = f"deliver-{uuid.uuid4().hex[:6]}"
            await publish_one_step(api, workflow, POLICY)
            gone = POLICY + "notify: {slack: {channel: C0GONE}}\n"
            await publish_one_step(api, f"{workflow}-gone", gone)
            try:
                yield SlackWorld(api, metrics, slack, workflow)
            finally:
                await temporal.get_workflow_handle(relay_id(configured, "slack")).terminate()


async def test_slack_not_in_channel_falls_back_and_holds_nothing_back(
    slack_world: SlackWorld,
) -> None:
    w = slack_world
    a_iid, a_rid = await w.pending(w.gone)  # its policy names a channel the app is not in
    b_iid, b_rid = await w.pending(w.workflow)
    b_ts, _ = await w.message(b_rid)  # not held behind A
    a_ts, a_copy = await w.message(a_rid)
    # A's fallback: the full message, buttons and all, in the team's channel, saying why.
    assert a_copy["channel"] == "C_PAY" and "gantral_approve" in str(a_copy["blocks"])
    why = [m for m in w.slack.of("chat.postMessage") if m.get("thread_ts") == a_ts]
    assert "could not post in <#C0GONE> (`not_in_channel`)" in why[0]["text"]
    assert w.undeliverable("post", "not_in_channel") == 1
    # The fallback copy is the one the relay keeps current.
    await w.approve(a_iid, a_rid)
    await until(
        lambda: "APPROVED* by delivery-lead" in str(w.slack.messages[a_ts]["blocks"]),
        "the fallback copy was not updated",
    )
    await w.approve(b_iid, b_rid)
    await until(
        lambda: "APPROVED* by delivery-lead" in str(w.slack.messages[b_ts]["blocks"]),
        "B was not updated",
    )


async def test_slack_deleted_message_gives_up_that_copy_only(slack_world: SlackWorld) -> None:
    w = slack_world
    a_iid, a_rid = await w.pending(w.workflow)
    a_ts, _ = await w.message(a_rid)
    # The relay refreshes a new copy once (the instance's move to waiting): after that.
    await until(
        lambda: any(u.get("ts") == a_ts for u in w.slack.of("chat.update")), "no first update"
    )
    w.slack.delete(a_ts)  # deleted in Slack: chat.update answers message_not_found
    await w.approve(a_iid, a_rid)
    b_iid, b_rid = await w.pending(w.workflow)
    b_ts, _ = await w.message(b_rid)  # not held behind A's update
    notice = await until(
        lambda: [
            body
            for body in w.slack.messages.values()
            if (body.get("metadata") or {}).get("event_type") == "gantral_notice"
            and a_rid in body.get("text", "")
        ],
        "no fallback notice for the deleted message",
    )
    text = notice[0]["text"]
    assert notice[0]["channel"] == "C_PAY" and "message_not_found" in text
    assert f"gantral requests show {a_iid}/{a_rid}" in text and "APPROVED" in text
    assert "blocks" not in notice[0]  # a notice has no buttons to go stale
    assert w.undeliverable("update", "message_not_found") == 1
    await w.approve(b_iid, b_rid)
    await until(
        lambda: "APPROVED* by delivery-lead" in str(w.slack.messages[b_ts]["blocks"]),
        "B was not updated",
    )


async def test_slack_retry_after_is_honoured(slack_world: SlackWorld) -> None:
    w = slack_world
    w.slack.retry_after = RETRY_AFTER
    w.slack.rate_limit["chat.postMessage"] = 1
    _, rid = await w.pending(w.workflow)
    await w.message(rid)
    posts = [(t, status) for m, t, status in w.slack.at if m == "chat.postMessage"]
    limited = next(i for i, (_, status) in enumerate(posts) if status == 429)
    gap = posts[limited + 1][0] - posts[limited][0]
    assert gap >= RETRY_AFTER - 0.1, f"retried {gap:.2f}s after a Retry-After of {RETRY_AFTER}s"
    labels = {"channel": "slack", "call": "post", "reason": "ratelimited"}
    assert w.count("gantral_channel_retries_total", **labels) >= 1


async def test_slack_answer_slower_than_the_timeout_posts_once(slack_world: SlackWorld) -> None:
    w = slack_world
    w.slack.slow_seconds = SLACK_TIMEOUT + 1.5
    w.slack.slow_posts = 1  # posted at once, answered after the client gave up
    iid, rid = await w.pending(w.workflow)
    ts, _ = await w.message(rid)
    await asyncio.sleep(SLACK_TIMEOUT + 3)  # past the client's timeout and the retry
    assert w.slack.copies(rid) == [ts], "the request was posted twice"
    # The retry looked in the channel (and found the copy) instead of posting again.
    assert w.slack.of("conversations.history")
    await w.approve(iid, rid)
    await until(
        lambda: "APPROVED* by delivery-lead" in str(w.slack.messages[ts]["blocks"]),
        "the message was not updated",
    )


async def test_slack_copy_landing_late_is_updated_too(slack_world: SlackWorld) -> None:
    w = slack_world
    w.slack.slow_seconds = SLACK_TIMEOUT + 3
    w.slack.late_posts = 1  # Slack takes the first post in only after the retry posted
    iid, rid = await w.pending(w.workflow)
    copies = await until(lambda: len(w.slack.copies(rid)) == 2 and w.slack.copies(rid), "one")
    await w.approve(iid, rid)
    for ts in copies:
        await until(
            lambda ts=ts: "APPROVED* by delivery-lead" in str(w.slack.messages[ts]["blocks"]),
            f"copy {ts} was not updated",
        )
        assert "gantral_approve" not in str(w.slack.messages[ts]["blocks"])


async def test_slack_without_the_history_scope_posts_rather_than_waits(
    slack_world: SlackWorld,
) -> None:
    w = slack_world
    w.slack.refuse["conversations.history"] = "missing_scope"  # no channels:history
    w.slack.slow_seconds = SLACK_TIMEOUT + 1.5
    w.slack.slow_posts = 1
    _, a_rid = await w.pending(w.workflow)
    _, b_rid = await w.pending(w.workflow)
    await w.message(b_rid)  # not held behind A's retry
    # Without the scope a duplicate is possible (documented); nothing waits forever.
    assert 1 <= len(w.slack.copies(a_rid)) <= 2


class JiraWorld(Stack):
    def __init__(
        self, api: httpx.AsyncClient, metrics: ChannelMetrics, jira: JiraStandIn, wf: str
    ) -> None:
        super().__init__(api, metrics)
        self.jira, self.workflow = jira, wf

    async def issue(self, iid: str, rid: str, seconds: float = PROMPTLY) -> str:
        def find() -> str | None:
            for key, fields in self.jira.issues.items():
                if f"{iid}/{rid}" in json.dumps(fields["description"]):
                    return key
            return None

        return str(await until(find, f"no issue for {rid}", seconds))

    def undeliverable(self, call: str, reason: str, fallback: str) -> float:
        labels = {"channel": "jira", "call": call, "reason": reason, "fallback": fallback}
        return self.count("gantral_channel_undeliverable_total", **labels)


@pytest_asyncio.fixture(loop_scope="session")
async def jira_world(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[JiraWorld]:
    jira = JiraStandIn(email="bot@example.com", token="jira-delivery", projects={"GOV"})
    metrics = ChannelMetrics()
    async with serve(jira.app()) as url:
        configured = settings.model_copy(
            update={
                "jira": JiraSettings.model_validate(
                    {
                        "base_url": url,
                        "email": jira.email,
                        "api_token": jira.token,
                        "webhook_secret": "jira-delivery-secret",
                        "project": "GOV",
                        "team_projects": {"ghosts": "NOPE"},  # no such project in Jira
                        "timeout_seconds": JIRA_TIMEOUT,
                    }
                )
            }
        )
        async with (
            api_client(configured, temporal, audit_config, base_url="http://g") as api,
            run_channels(temporal, configured, audit_config, metrics),
        ):
            workflow = f"deliver-j-{uuid.uuid4().hex[:6]}"
            await publish_one_step(api, workflow, POLICY)
            try:
                yield JiraWorld(api, metrics, jira, workflow)
            finally:
                await temporal.get_workflow_handle(relay_id(configured, "jira")).terminate()


async def test_jira_long_arguments_are_cut_and_hold_nothing_back(jira_world: JiraWorld) -> None:
    w = jira_world
    blob = "x" * 40_000  # the API takes up to 64 KiB per field; Jira 32,767 characters
    a_iid, a_rid = await w.pending(w.workflow, {"amount": 5, "blob": blob})
    b_iid, b_rid = await w.pending(w.workflow)
    await w.issue(b_iid, b_rid)  # not held behind A
    a_key = await w.issue(a_iid, a_rid)
    description = w.jira.issues[a_key]["description"]
    assert len(json.dumps(description)) <= TEXT_LIMIT
    text = json.dumps(description)
    assert "Arguments digest" in text and "cut: longer than Jira" in text
    assert f"gantral requests show {a_iid}/{a_rid}" in text


async def test_jira_unknown_project_falls_back_and_is_counted(jira_world: JiraWorld) -> None:
    w = jira_world
    a_iid, a_rid = await w.pending(w.workflow, team="ghosts")  # its project: NOPE (400)
    b_iid, b_rid = await w.pending(w.workflow)
    await w.issue(b_iid, b_rid)
    a_key = await w.issue(a_iid, a_rid)
    assert w.jira.issues[a_key]["project"] == {"key": "GOV"}  # the default project
    assert w.undeliverable("post", "http_400", "posted") == 1


async def test_jira_deleted_issue_gives_up_that_issue_only(jira_world: JiraWorld) -> None:
    w = jira_world
    a_iid, a_rid = await w.pending(w.workflow)
    a_key = await w.issue(a_iid, a_rid)
    w.jira.delete(a_key)
    await w.approve(a_iid, a_rid)
    b_iid, b_rid = await w.pending(w.workflow)
    b_key = await w.issue(b_iid, b_rid)
    await until(lambda: w.undeliverable("update", "http_404", "none") == 1, "not counted")
    await w.approve(b_iid, b_rid)
    await until(lambda: w.jira.comments.get(b_key), "B was not commented", PROMPTLY)
    assert w.jira.issues[b_key]["status"] == "Approved"


async def test_jira_retry_after_is_honoured(jira_world: JiraWorld) -> None:
    w = jira_world
    w.jira.retry_after = RETRY_AFTER
    w.jira.rate_limit = 1
    started = time.monotonic()
    iid, rid = await w.pending(w.workflow)
    await w.issue(iid, rid)
    creates = [(t, s) for p, t, s in w.jira.at if p == "/rest/api/3/issue" and t >= started]
    limited = next(i for i, (_, status) in enumerate(creates) if status == 429)
    gap = creates[limited + 1][0] - creates[limited][0]
    assert gap >= RETRY_AFTER - 0.1, f"retried {gap:.2f}s after a Retry-After of {RETRY_AFTER}s"


async def test_jira_answer_slower_than_the_timeout_opens_one_issue(jira_world: JiraWorld) -> None:
    w = jira_world
    w.jira.slow_creates, w.jira.slow_seconds = 1, JIRA_TIMEOUT + 1.5
    iid, rid = await w.pending(w.workflow)
    key = await w.issue(iid, rid)
    await asyncio.sleep(JIRA_TIMEOUT + 3)  # past the client's timeout and the retry
    opened = [k for k, f in w.jira.issues.items() if f"{iid}/{rid}" in json.dumps(f)]
    assert opened == [key], "the request was opened twice"
    await w.approve(iid, rid)
    await until(lambda: w.jira.issues[key]["status"] == "Approved", "the issue was not moved")

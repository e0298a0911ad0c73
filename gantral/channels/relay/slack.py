"""Slack's relay activities: post a request's message, update it, reply in its thread.

A request is posted to the channel its step's pinned policy names (`notify.slack.channel`),
else to its team's configured channel; updates and thread replies follow the message.

Each reads the request through the instance's own query, so the message always shows the
instance's current truth (quorum, outcome, who decided and via which channel).

Failures (gantral.channels.relay.failures): a transient one (rate limit, 5xx, timeout)
raises and Temporal retries, after Slack's `Retry-After` when it gave one. A permanent one
(`not_in_channel`, `message_not_found`, `msg_too_long`, ...) gives up on that delivery
after a fallback in the team's channel (the full message when only the channel was wrong,
else a short notice naming `gantral requests show`), and the channel's next request goes
out at once.

Posting is idempotent: every copy carries the request in its message metadata. A retry
(the previous attempt's answer lost, e.g. slower than the client timeout) first looks for
that copy in the channel's history and adopts it; a copy that landed after that look is
found when the request is decided, and updated like the first.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from gantral.channels.relay.deputies import Deputies
from gantral.channels.relay.failures import Failures, log
from gantral.channels.relay.messages import MessageRef, PostRequest, Refresh
from gantral.channels.relay.pinned import pinned_policy
from gantral.channels.slack.blocks import StandingIn, request_message
from gantral.channels.slack.web import SlackUnavailable, SlackWeb
from gantral.domain.records import HumanRequest, RequestStatus
from gantral.domain.states import TERMINAL_STATES
from gantral.governance.delegation_book import DelegationBook
from gantral.observability.metrics import ChannelMetrics
from gantral.policy.models import Policy
from gantral.settings.channels import SlackSettings
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.messages import InstanceView

__all__ = ["COPY", "NOTICE", "SlackRelay", "load"]

# Message metadata event types: a request's copy (with its buttons), and a fallback notice.
COPY, NOTICE = "gantral_request", "gantral_notice"
# Errors about the channel, not the message: the full message may go to another channel.
_CHANNEL_ERRORS = {
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel",
    "ekm_access_denied",
    "team_access_not_granted",
}
# The history cannot be read with this token (no channels:history / groups:history).
_UNREADABLE = {"missing_scope", "not_allowed_token_type", "no_permission"}
_NOTICE_MAX = 2900
_HISTORY_PAGES = 5
# How far before the request's creation its copies are looked for (clock skew).
_HISTORY_SLACK = timedelta(minutes=5)


async def load(
    temporal: Client, instance_id: str, request_id: str
) -> tuple[InstanceView, HumanRequest]:
    # Annotated: mypy needs the handle's types to match the workflow's run method.
    handle: WorkflowHandle[InstanceWorkflow, InstanceView] = temporal.get_workflow_handle_for(
        InstanceWorkflow.run, instance_id
    )
    try:
        view = await handle.query(InstanceWorkflow.view)
        request = await handle.query(InstanceWorkflow.request, request_id)
    except RPCError as exc:
        # Gone (past Temporal's retention, say): no retry can bring it back.
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise LookupError(f"no instance {instance_id}") from None
        raise
    if request is None:
        raise LookupError(f"no request {request_id} on {instance_id}")
    return view, request


def _attempt() -> int:
    return activity.info().attempt if activity.in_activity() else 1


class SlackRelay:
    def __init__(
        self,
        settings: SlackSettings,
        temporal: Client,
        web: SlackWeb,
        metrics: ChannelMetrics | None = None,
        delegations: DelegationBook | None = None,
    ) -> None:
        self._settings = settings
        self._temporal = temporal
        self._web = web
        self._failures = Failures("slack", metrics or ChannelMetrics())
        # Who stands in for whom: a message names the deputies who may decide it.
        self._deputies = Deputies(delegations, "slack")
        # Gantral actor -> Slack user id, to mention a deputy the user mapping names.
        self._slack_ids = {who.actor: user for user, who in settings.users.items()}

    @activity.defn(name="slack_post_request")
    async def post_request(self, ask: PostRequest) -> MessageRef | None:
        """Post the request to its policy's or its team's channel; None when neither names
        one, or when only a notice could be posted."""
        try:
            view, request = await load(self._temporal, ask.instance_id, ask.request_id)
        except LookupError as exc:
            self._failures.gave_up("post", "request_not_found", "none", str(exc))
            return None
        policy = await pinned_policy(self._temporal, view.instance_id, request.step_id)
        channel = self._channel(view, policy)
        if channel is None:
            return None
        text, blocks = request_message(
            view.instance_id, view.workflow_id, view.owning_team_id, request, policy,
            await self._standing_in(view, request),
        )  # fmt: skip
        try:
            return await self._post(channel, view, request, COPY, text=text, blocks=blocks)
        except SlackUnavailable as exc:
            if not exc.permanent:
                raise self._failures.retry("post", exc) from None
            return await self._post_fallback(channel, view, request, exc, text, blocks)

    async def _standing_in(self, view: InstanceView, request: HumanRequest) -> list[StandingIn]:
        """The deputies who may decide `request` now, each mentioned when the Slack user
        mapping names them."""
        return [
            StandingIn(d.deputy, d.delegator, d.roles, self._slack_ids.get(d.deputy))
            for d in await self._deputies.of(view, request)
        ]

    def _channel(self, view: InstanceView, policy: Policy | None) -> str | None:
        if policy is not None and policy.notify is not None and policy.notify.slack is not None:
            return policy.notify.slack.channel
        return self._settings.channel_for(view.owning_team_id)

    def _fallback_channels(self, team: str, failed: str, channel_error: bool) -> list[str]:
        """Where a fallback goes: the team's channel, then the default one; the failed
        channel itself last, and only when the channel was not the problem."""
        found = [self._settings.channel_for(team), self._settings.default_channel]
        if not channel_error:
            found.append(failed)
        ordered: list[str] = []
        for channel in found:
            if channel and channel not in ordered and (channel != failed or not channel_error):
                ordered.append(channel)
        return ordered

    async def _post(
        self,
        channel: str,
        view: InstanceView,
        request: HumanRequest,
        kind: str,
        **message: Any,
    ) -> MessageRef:
        """chat.postMessage carrying the request in its metadata; on a retry, the copy an
        earlier attempt left in `channel` instead, if there is one."""
        retried = _attempt() > 1
        if retried:
            copies = await self._copies(channel, view.instance_id, request, kind)
            if copies:
                log.info("slack %s for %s found posted by an earlier attempt", kind, channel)
                if len(copies) > 1:
                    self._failures.metrics.duplicates.labels("slack").inc(len(copies) - 1)
                return MessageRef(channel=channel, ref=copies[0], retried=True)
        metadata = {
            "event_type": kind,
            "event_payload": {
                "instance_id": view.instance_id,
                "request_id": request.request_id,
            },
        }
        answer = await self._web.call(
            "chat.postMessage", channel=channel, metadata=metadata, **message
        )
        return MessageRef(
            channel=str(answer.get("channel") or channel), ref=str(answer["ts"]), retried=retried
        )

    async def _copies(
        self, channel: str, instance_id: str, request: HumanRequest, kind: str = COPY
    ) -> list[str]:
        """The ts of every message of `kind` for `request` in `channel`, oldest first.
        Empty when the history cannot be read (a missing `channels:history` scope, say):
        then a duplicate is possible, which the log says, but nothing is held back."""
        oldest = (request.created_at - _HISTORY_SLACK).timestamp()
        found: list[str] = []
        cursor = ""
        for _ in range(_HISTORY_PAGES):
            params: dict[str, Any] = {
                "channel": channel,
                "oldest": f"{max(oldest, 0):.6f}",
                "include_all_metadata": "true",
                "limit": 200,
            }
            if cursor:
                params["cursor"] = cursor
            try:
                page = await self._web.read("conversations.history", **params)
            except SlackUnavailable as exc:
                # Slack's own trouble passes; a missing scope or channel does not, and must
                # not hold the channel back: then post (perhaps twice) rather than wait.
                if not exc.permanent and exc.code not in _UNREADABLE:
                    raise self._failures.retry("history", exc) from None
                log.warning("slack history of %s unreadable (%s): may post twice", channel, exc)
                return sorted(found, key=float)
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if (
                    meta.get("event_type") == kind
                    and payload.get("instance_id") == instance_id
                    and payload.get("request_id") == request.request_id
                    and message.get("thread_ts") in (None, message.get("ts"))
                ):
                    found.append(str(message["ts"]))
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not page.get("has_more") or not cursor:
                break
        return sorted(found, key=float)

    async def _post_fallback(
        self,
        failed: str,
        view: InstanceView,
        request: HumanRequest,
        exc: SlackUnavailable,
        text: str,
        blocks: list[dict[str, Any]],
    ) -> MessageRef | None:
        """After a permanent failure to post in `failed`: the full message in the team's
        channel when the channel was the problem, else a short notice."""
        about = f"{view.instance_id}/{request.request_id} in {failed}"
        channel_error = exc.code in _CHANNEL_ERRORS
        for channel in self._fallback_channels(view.owning_team_id, failed, channel_error):
            try:
                if channel_error:
                    where = await self._post(channel, view, request, COPY, text=text, blocks=blocks)
                    self._failures.gave_up("post", exc.code, "posted", about)
                    await self._explain(where, failed, exc)
                    return where
                await self._post(
                    channel, view, request, NOTICE, text=_notice(view, request, failed, exc)
                )
                self._failures.gave_up("post", exc.code, "posted", about)
                return None
            except SlackUnavailable as again:
                if not again.permanent:
                    raise self._failures.retry("fallback", again) from None
                log.warning("slack fallback in %s failed too: %s", channel, again)
        self._failures.gave_up("post", exc.code, "failed", about)
        return None

    async def _explain(self, where: MessageRef, failed: str, exc: SlackUnavailable) -> None:
        """Why a copy is here and not where its policy said: in its thread, which the
        copy's updates leave alone. Best effort: the copy itself is what matters."""
        text = (
            f"Posted here because Gantral could not post in <#{failed}> (`{exc.code}`): "
            "invite the app there, or correct the channel the policy names."
        )
        try:
            await self._web.call(
                "chat.postMessage", channel=where.channel, thread_ts=where.ref, text=text
            )
        except SlackUnavailable as again:
            log.warning("slack: the fallback's explanation was not posted: %s", again)

    @activity.defn(name="slack_refresh")
    async def refresh(self, ask: Refresh) -> bool:
        """Update the message to the request's current state (and post `note` in its
        thread). True while the request is still open (and its message still updatable)."""
        where = ask.where
        try:
            view, request = await load(self._temporal, ask.instance_id, ask.request_id)
        except LookupError as exc:
            self._failures.gave_up("update", "request_not_found", "none", str(exc))
            return False
        if request.status is RequestStatus.PENDING and view.state in TERMINAL_STATES:
            request = request.model_copy(update={"status": RequestStatus.CANCELLED})
        policy = await pinned_policy(self._temporal, view.instance_id, request.step_id)
        text, blocks = request_message(
            view.instance_id, view.workflow_id, view.owning_team_id, request, policy,
            await self._standing_in(view, request),
        )  # fmt: skip
        try:
            await self._web.call(
                "chat.update", channel=where.channel, ts=where.ref, text=text, blocks=blocks
            )
        except SlackUnavailable as exc:
            if not exc.permanent:
                raise self._failures.retry("update", exc) from None
            # Deleted, or no longer ours to edit: say where the request stands, and stop
            # updating this copy (the channel's other requests go on).
            await self._notice_fallback("update", where.channel, view, request, exc)
            return False
        still_open = request.status is RequestStatus.PENDING
        if not still_open and where.retried:
            await self._update_other_copies(where, view, request, text, blocks)
        if ask.note:
            try:
                await self._web.call(
                    "chat.postMessage", channel=where.channel, thread_ts=where.ref, text=ask.note
                )
            except SlackUnavailable as exc:
                if not exc.permanent:
                    raise self._failures.retry("reply", exc) from None
                about = f"{ask.instance_id}/{ask.request_id}"
                self._failures.gave_up("reply", exc.code, "none", about)
        return still_open

    async def _update_other_copies(
        self,
        where: MessageRef,
        view: InstanceView,
        request: HumanRequest,
        text: str,
        blocks: list[dict[str, Any]],
    ) -> None:
        """A post was retried: every other copy of the request in the channel gets the
        outcome too, so none keeps live buttons."""
        for ts in await self._copies(where.channel, view.instance_id, request):
            if ts == where.ref:
                continue
            self._failures.metrics.duplicates.labels("slack").inc()
            try:
                await self._web.call(
                    "chat.update", channel=where.channel, ts=ts, text=text, blocks=blocks
                )
            except SlackUnavailable as exc:
                if not exc.permanent:
                    raise self._failures.retry("update", exc) from None
                about = f"{view.instance_id}/{request.request_id} copy {ts}"
                self._failures.gave_up("update", exc.code, "none", about)

    async def _notice_fallback(
        self,
        call: str,
        failed: str,
        view: InstanceView,
        request: HumanRequest,
        exc: SlackUnavailable,
    ) -> None:
        about = f"{view.instance_id}/{request.request_id} in {failed}"
        channel_error = exc.code in _CHANNEL_ERRORS
        for channel in self._fallback_channels(view.owning_team_id, failed, channel_error):
            try:
                await self._post(
                    channel, view, request, NOTICE, text=_notice(view, request, failed, exc)
                )
            except SlackUnavailable as again:
                if not again.permanent:
                    raise self._failures.retry("fallback", again) from None
                log.warning("slack fallback in %s failed too: %s", channel, again)
                continue
            self._failures.gave_up(call, exc.code, "posted", about)
            return
        self._failures.gave_up(call, exc.code, "failed", about)


def _notice(view: InstanceView, request: HumanRequest, failed: str, exc: SlackUnavailable) -> str:
    """The shortened message: what the request is, where it stands, and where to see it all
    and decide (plain text, no buttons: nothing here can go stale)."""
    name = f"{view.instance_id}/{request.request_id}"
    if request.status is RequestStatus.PENDING:
        state = "It is waiting for a decision: decide with `gantral requests approve|reject"
        state += f" {name}` or the API."
    else:
        state = f"It is {request.status} (by {request.decided_by or 'the system'}"
        state += f" via {request.decided_via or '?'})."
    text = (
        f"Gantral could not show request `{name}` in <#{failed}> (`{exc.code}`): "
        f"{request.action} ({request.materiality}) for {view.workflow_id}, step "
        f"{request.step_id}, team {view.owning_team_id}. {state} "
        f"See it in full with `gantral requests show {name}`."
    )
    return text if len(text) <= _NOTICE_MAX else text[: _NOTICE_MAX - 1] + "…"

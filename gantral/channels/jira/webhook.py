"""A verified Jira `jira:issue_updated` delivery -> a decision through the core.

The issue is found among the relay's open copies (the relay created it), never from
fields an editor of the issue could change. A status change to the configured approve or
reject status is the decision of the Jira user who made it, mapped by configuration; a
reject needs a comment on the transition (its justification), as in every channel. An
approve whose comment has a `standing:` line also gives a standing grant
(gantral.channels.jira.standing); a reject with one is refused, not read as a reason. The
decision names the request and the arguments digest the issue showed, as the relay
recorded it when it opened the issue: a request the agent has since asked again with
other arguments is refused (superseded or stale), not decided.

Jira moves the issue before Gantral hears of it, so a transition that is not recorded
(an unmapped user, no role, no comment on a reject, a request already decided or
superseded) would leave the issue claiming an outcome that did not happen. Gantral moves
it back to the status it came from (a request already settled: to the status of its
outcome) and says why in a comment. A delivery that changes nothing answers 200, since
Jira retries a delivery answered 409 (as it does a 429 or a 5xx) however often it is
answered the same.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from gantral.channels.decisions import (
    ChannelDecision,
    decide_via_channel,
    principal_of,
    refuse,
    unknown_actor,
)
from gantral.channels.jira.rest import JiraRest, JiraUnavailable
from gantral.channels.jira.standing import asks_standing, standing_asked
from gantral.channels.relay.messages import ShownCopy
from gantral.channels.relay.workflow import ChannelRelayWorkflow
from gantral.core import GantralCore
from gantral.domain.records import DecisionType, RequestStatus
from gantral.errors import (
    Conflict,
    Forbidden,
    GantralError,
    InvalidInput,
    NotFound,
    Reason,
    Unavailable,
)
from gantral.governance.delegation_book import DelegationBook
from gantral.identity import IdentityService, to_actor
from gantral.settings.channels import JiraSettings
from gantral.workflows.messages import DecisionResult

__all__ = ["JiraOutcome", "JiraUnchanged", "handle_issue_updated"]

log = logging.getLogger("gantral.channels.jira")


class JiraUnchanged(BaseModel):
    """A delivery that changed nothing: the request was already settled."""

    outcome: Literal["unchanged"] = "unchanged"
    reason: str
    message: str
    issue: str


JiraOutcome = DecisionResult | JiraUnchanged | None
_APPROVED = {RequestStatus.APPROVED, RequestStatus.OVERRIDDEN}


def _status_change(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(from, to) status names of the delivery's status change."""
    items = (body.get("changelog") or {}).get("items") or []
    for item in items:
        if isinstance(item, dict) and item.get("field") == "status":
            before, to = item.get("fromString"), item.get("toString")
            return (
                before if isinstance(before, str) else None,
                to if isinstance(to, str) else None,
            )
    return None, None


def _comment(body: dict[str, Any]) -> str | None:
    comment = body.get("comment") or {}
    text = comment.get("body") if isinstance(comment, dict) else None
    return text.strip() if isinstance(text, str) and text.strip() else None


async def _shown_in(temporal: Client, relay_id: str, key: str) -> ShownCopy:
    """The request the relay opened issue `key` for, and the arguments digest it showed."""
    try:
        # Annotated: mypy needs the handle's types to match the workflow's run method.
        handle: WorkflowHandle[ChannelRelayWorkflow, None] = temporal.get_workflow_handle_for(
            ChannelRelayWorkflow.run, relay_id
        )
        found = await handle.query(ChannelRelayWorkflow.shown_in, key)
    except RPCError as exc:
        raise Unavailable("the Jira relay is not running", reason=Reason.RELAY_UNAVAILABLE) from exc
    if found is None:
        raise NotFound(f"{key} is not a Gantral request's issue", reason=Reason.UNKNOWN_ISSUE)
    return found


async def _put_back(rest: JiraRest, key: str, status: str | None, why: str) -> None:
    """Move the issue to `status` and comment `why` (and whether it could be moved).

    A Jira failure answers 503, so Jira delivers again and this is tried again."""
    try:
        moved = status is not None and await rest.transition_to(key, status)
        if status is not None and not moved:
            log.warning("Jira issue %s has no transition to %s", key, status)
            why += (
                f" Gantral could not move the issue back to {status} (no transition leads "
                "there): its status does not show the request's state."
            )
        elif status is not None:
            why += f" The issue is back in {status}."
        await rest.comment(key, why)
    except JiraUnavailable as exc:
        raise Unavailable(
            f"could not correct Jira issue {key}: {exc}", reason=Reason.JIRA_UNAVAILABLE
        ) from exc


async def _settled(
    rest: JiraRest,
    settings: JiraSettings,
    core: GantralCore,
    key: str,
    came_from: str | None,
    to: str,
    cmd: ChannelDecision,
    exc: Conflict,
) -> JiraUnchanged:
    """The request was settled before this transition: put the issue where the outcome
    says, and tell the Jira user who decided, how and when."""
    request = await core.get_request(cmd.instance_id, cmd.request_id)
    approved = request.status in _APPROVED
    shows = settings.approve_status if approved else settings.reject_status
    text = f"Not recorded: this request is {exc.message}."
    if to != shows:
        await _put_back(rest, key, came_from, text)
        if came_from != shows:
            name = settings.approve_transition if approved else settings.reject_transition
            try:
                await rest.transition(key, name)
            except JiraUnavailable as failure:
                raise Unavailable(
                    f"could not correct Jira issue {key}: {failure}", reason=Reason.JIRA_UNAVAILABLE
                ) from failure
    else:
        await _put_back(rest, key, None, text)
    return JiraUnchanged(reason=exc.reason, message=exc.message, issue=key)


def _advice(exc: GantralError, cmd: ChannelDecision) -> str:
    ref = f"{cmd.instance_id}/{cmd.request_id}"
    if exc.reason == "justification_required":
        return (
            "Not recorded: a rejection needs a reason. Reject again with a comment on the "
            f"transition, or run `gantral requests reject {ref} --justification ...`."
        )
    if exc.reason == "args_digest_required":
        return (
            "Not recorded: Gantral has no record of the arguments this issue showed (it was "
            f"opened by an earlier version). Decide with `gantral requests show {ref}`, then "
            "`gantral requests approve` or `reject`."
        )
    if exc.reason == "stale":
        return (
            f"Not recorded: {exc.message}. The arguments this issue shows are no longer the "
            "ones asked for: decide on the newer request (its own issue, or "
            f"`gantral requests show {cmd.instance_id}`)."
        )
    return f"Not recorded: {exc.message}."


async def handle_issue_updated(
    body: dict[str, Any],
    delivery: str,
    *,
    settings: JiraSettings,
    core: GantralCore,
    identity: IdentityService,
    temporal: Client,
    relay_id: str,
    rest: JiraRest,
    delegations: DelegationBook | None = None,
) -> JiraOutcome:
    """The decision this delivery carries (None when it carries none). A refusal moves
    the issue back and comments why, then raises (recorded in the access log); a request
    already settled answers `JiraUnchanged`. With `delegations`, a Jira user whom a
    delegation in effect names as deputy decides for the delegator (both names recorded)."""
    if body.get("webhookEvent") != "jira:issue_updated":
        return None
    came_from, status = _status_change(body)
    kinds = {
        settings.approve_status: DecisionType.APPROVE,
        settings.reject_status: DecisionType.REJECT,
    }
    kind = kinds.get(status or "")
    user = (body.get("user") or {}).get("accountId")
    key = (body.get("issue") or {}).get("key")
    if kind is None or status is None or not isinstance(key, str) or not isinstance(user, str):
        return None
    if user == settings.bot_account_id:
        return None  # Gantral's own transition after a decision elsewhere
    shown = await _shown_in(temporal, relay_id, key)
    instance_id, request_id = shown.instance_id, shown.request_id
    who = settings.users.get(user)
    if who is None:
        refused = Forbidden(
            f"Jira user {user} is not mapped to a Gantral approver", reason=Reason.UNKNOWN_USER
        )
        await refuse(
            core,
            unknown_actor("jira", user),
            f"jira {kind} on {key}",
            refused,
            instance_id,
            request_id,
        )
        await _put_back(
            rest,
            key,
            came_from,
            f"Not recorded: Jira user {user} is not mapped to a Gantral approver. Ask an "
            "administrator to map the account (GANTRAL_JIRA__USERS), or decide through "
            "another channel.",
        )
        raise refused
    justification, standing = _comment(body), None
    if asks_standing(justification):
        try:
            if kind is not DecisionType.APPROVE:  # never dropped unsaid: the human meant it
                raise InvalidInput(
                    "only an approve gives a standing grant: reject without the `standing:` "
                    "line, or approve with it",
                    reason=Reason.STANDING_NOT_ALLOWED,
                )
            request = await core.get_request(instance_id, request_id)
            justification, standing = standing_asked(justification, request.arguments)
        except (InvalidInput, Forbidden) as exc:
            actor = to_actor(principal_of(who, "jira"))
            await refuse(core, actor, f"jira {kind} on {key}", exc, instance_id, request_id)
            await _put_back(rest, key, came_from, f"Not recorded: {exc.message}.")
            raise
    cmd = ChannelDecision(
        channel="jira",
        channel_ref=key,
        instance_id=instance_id,
        request_id=request_id,
        decision_type=kind,
        # Bound to what the issue showed when the relay opened it (recorded by the relay,
        # not read from the issue, which its editors could change).
        seen_args_digest=shown.args_digest,
        # No comment, no justification: the core refuses a reject without one, as it
        # does from every channel.
        justification=justification,
        idempotency_key=f"jira-{delivery}",
        standing=standing,
    )
    try:
        return await decide_via_channel(core, identity, who, cmd, delegations)
    except Unavailable:
        raise  # Jira delivers again once Gantral is back
    except Conflict as exc:
        # Changes nothing (settled, already approved by this user, not waiting): 200.
        if exc.reason == "already_decided":
            return await _settled(rest, settings, core, key, came_from, status, cmd, exc)
        await _put_back(rest, key, came_from, _advice(exc, cmd))
        return JiraUnchanged(reason=exc.reason, message=exc.message, issue=key)
    except GantralError as exc:
        await _put_back(rest, key, came_from, _advice(exc, cmd))
        raise

"""A verified Jira `jira:issue_updated` delivery -> a decision through the core.

The issue is found among the relay's open copies (the relay created it), never from
fields an editor of the issue could change. A status change to the configured approve or
reject status is the decision of the Jira user who made it, mapped by configuration.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from gantral.channels.decisions import (
    ChannelDecision,
    decide_via_channel,
    refuse,
    unknown_actor,
)
from gantral.channels.relay.workflow import ChannelRelayWorkflow
from gantral.channels.settings import JiraSettings
from gantral.client import GantralCore
from gantral.domain.records import DecisionType
from gantral.errors import Forbidden, NotFound, Unavailable
from gantral.identity import IdentityService
from gantral.workflows.messages import DecisionResult

__all__ = ["JiraOutcome", "handle_issue_updated"]


JiraOutcome = DecisionResult | None


def _status_change(body: dict[str, Any]) -> str | None:
    items = (body.get("changelog") or {}).get("items") or []
    for item in items:
        if isinstance(item, dict) and item.get("field") == "status":
            to = item.get("toString")
            return to if isinstance(to, str) else None
    return None


def _comment(body: dict[str, Any]) -> str | None:
    comment = body.get("comment") or {}
    text = comment.get("body") if isinstance(comment, dict) else None
    return text if isinstance(text, str) and text.strip() else None


async def _request_of(temporal: Client, relay_id: str, key: str) -> tuple[str, str]:
    try:
        # Annotated: mypy needs the handle's types to match the workflow's run method.
        handle: WorkflowHandle[ChannelRelayWorkflow, None] = temporal.get_workflow_handle_for(
            ChannelRelayWorkflow.run, relay_id
        )
        found = await handle.query(ChannelRelayWorkflow.request_of, key)
    except RPCError as exc:
        raise Unavailable("the Jira relay is not running", reason="relay_unavailable") from exc
    if found is None:
        raise NotFound(f"{key} is not a Gantral request's issue", reason="unknown_issue")
    instance_id, _, request_id = found.partition("/")
    return instance_id, request_id


async def handle_issue_updated(
    body: dict[str, Any],
    delivery: str,
    *,
    settings: JiraSettings,
    core: GantralCore,
    identity: IdentityService,
    temporal: Client,
    relay_id: str,
) -> JiraOutcome:
    """The decision this delivery carries (None when it carries none)."""
    if body.get("webhookEvent") != "jira:issue_updated":
        return None
    status = _status_change(body)
    kinds = {
        settings.approve_status: DecisionType.APPROVE,
        settings.reject_status: DecisionType.REJECT,
    }
    kind = kinds.get(status or "")
    user = (body.get("user") or {}).get("accountId")
    key = (body.get("issue") or {}).get("key")
    if kind is None or not isinstance(key, str) or not isinstance(user, str):
        return None
    if user == settings.bot_account_id:
        return None  # Gantral's own transition after a decision elsewhere
    instance_id, request_id = await _request_of(temporal, relay_id, key)
    who = settings.users.get(user)
    if who is None:
        refused = Forbidden(
            f"Jira user {user} is not mapped to a Gantral approver", reason="unknown_user"
        )
        await refuse(
            core,
            unknown_actor("jira", user),
            f"jira {kind} on {key}",
            refused,
            instance_id,
            request_id,
        )
        raise refused
    cmd = ChannelDecision(
        channel="jira",
        channel_ref=key,
        instance_id=instance_id,
        request_id=request_id,
        decision_type=kind,
        justification=_comment(body)
        or (f"{status} in Jira {key}" if kind is DecisionType.REJECT else None),
        idempotency_key=f"jira-{delivery}",
    )
    return await decide_via_channel(core, identity, who, cmd)

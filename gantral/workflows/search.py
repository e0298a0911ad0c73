"""Search attributes and memo: Gantral's governed view inside Temporal's own CLI and Web UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import workflow
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from gantral.domain.records import HumanRequest
from gantral.domain.states import State
from gantral.workflows.messages import StartInstance

STATE = SearchAttributeKey.for_keyword("GantralState")
TEAM = SearchAttributeKey.for_keyword("GantralTeam")
WORKFLOW = SearchAttributeKey.for_keyword("GantralWorkflow")
MATERIALITY = SearchAttributeKey.for_keyword("GantralMateriality")
# The roles a pending request still needs: the approver inbox filters on it.
NEEDS_ROLES = SearchAttributeKey.for_keyword_list("GantralNeedsRoles")


def summary(start: StartInstance, state: State, pending: HumanRequest | None) -> str:
    text = f"{start.template.id} v{start.template.version} for team {start.owning_team_id}: {state}"
    if pending is not None:
        approvers = ", ".join(pending.still_needed or pending.required_approvers)
        text += f" on step {pending.step_id} ({pending.materiality}); needs {approvers}"
        if pending.deadline is not None:
            text += f" by {pending.deadline.isoformat()}"
    return text


def static_summary(start: StartInstance) -> str:
    return (
        f"Gantral instance of {start.template.id} v{start.template.version} "
        f"for team {start.owning_team_id}, started by {start.started_by.id}"
    )


def static_details(start: StartInstance) -> str:
    steps = ", ".join(f"{s.id} (governed)" if s.governed else s.id for s in start.template.steps)
    return (
        f"**Workflow** {start.template.id} v{start.template.version} "
        f"(template {start.template_hash})\n\n**Steps** {steps}\n\n"
        "Decide through Gantral (API, Slack, Jira, CLI), never by signalling or updating "
        "this workflow here: calls without Gantral's attestation are refused."
    )


def current_details(state: State, pending: HumanRequest | None) -> str:
    """What the instance waits for, in words, for the Web UI's Current Details."""
    if pending is None:
        return f"**State** {state}"
    approvers = ", ".join(pending.still_needed or pending.required_approvers)
    text = (
        f"**State** {state}: waiting for a human decision on step **{pending.step_id}**\n\n"
        f"**Action** {pending.action}, arguments digest `{pending.args_digest}`\n\n"
        f"**Materiality** {pending.materiality}; **needs** {approvers}"
    )
    if pending.quorum:
        text += f" ({pending.quorum})"
    if pending.deadline is not None:
        text += f"\n\n**Deadline** {pending.deadline.isoformat()}"
    return text


def publish(
    start: StartInstance,
    state: State,
    pending: HumanRequest | None,
    last: Published | None = None,
) -> Published:
    """Upsert the visible state; never read back by the workflow. With `last` (what the
    previous call published), only what changed is upserted: each upsert is a command in
    history and work for every workflow task."""
    roles = (pending.still_needed or pending.required_approvers) if pending else None
    attributes = (state.value, pending.materiality.value if pending else None, roles)
    memo = {
        "summary": summary(start, state, pending),
        "pending_request_id": pending.request_id if pending else None,
        "approvals": dict(pending.approvals) if pending else {},
        "quorum": pending.quorum if pending else None,
    }
    details = current_details(state, pending)
    if last is None or attributes != last.attributes:
        updates: list[SearchAttributeUpdate[Any]] = [
            STATE.value_set(state.value),
            TEAM.value_set(start.owning_team_id),
            WORKFLOW.value_set(start.template.id),
        ]
        if pending is not None:
            updates.append(MATERIALITY.value_set(pending.materiality.value))
            updates.append(NEEDS_ROLES.value_set(roles or []))
        else:
            updates.append(NEEDS_ROLES.value_unset())
        workflow.upsert_search_attributes(updates)
    if last is None or details != last.details:
        workflow.set_current_details(details)
    if last is None or memo != last.memo:
        workflow.upsert_memo(memo)
    return Published(attributes, details, memo)


@dataclass(frozen=True)
class Published:
    """What `publish` last upserted."""

    attributes: tuple[str, str | None, list[str] | None]
    details: str
    memo: dict[str, Any]


def initial(start: StartInstance) -> TypedSearchAttributes:
    """Set at start, so the instance is listable before its first workflow task runs."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(STATE, State.CREATED.value),
            SearchAttributePair(TEAM, start.owning_team_id),
            SearchAttributePair(WORKFLOW, start.template.id),
        ]
    )

"""Block Kit for a human request: the message, its outcome, the decision modal, App Home.

Everything a human must see before deciding: workflow, step, action and arguments with
their digest, materiality, context snapshot summary, deadline and quorum progress.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from gantral.channels.inbox import InboxItem
from gantral.channels.outcomes import what_happened
from gantral.channels.slack.arguments import (
    INPUT_LIMIT,
    approve_truncated,
    escape,
    override_prefill,
    show,
)
from gantral.channels.slack.batch import batch_buttons
from gantral.channels.slack.standing import STANDING
from gantral.channels.standing import offered
from gantral.domain.records import HumanRequest, RequestStatus
from gantral.policy.models import Policy

__all__ = [
    "APPROVE",
    "CALLBACK",
    "OVERRIDE",
    "REJECT",
    "ActionRef",
    "StandingIn",
    "home_view",
    "modal",
    "not_offered",
    "request_message",
    "see_all",
]

APPROVE, REJECT, OVERRIDE = "gantral_approve", "gantral_reject", "gantral_override"
CALLBACK = "gantral_decision"
_MAX_TEXT = 3000  # a section's text is limited to 3000 characters


class ActionRef(dict[str, str]):
    """What a button carries: instance, request and the digest the approver is shown."""

    @classmethod
    def of(cls, instance_id: str, request: HumanRequest) -> ActionRef:
        return cls(i=instance_id, r=request.request_id, d=request.args_digest)

    def encode(self) -> str:
        return json.dumps(self, separators=(",", ":"), sort_keys=True)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def _context_summary(request: HumanRequest) -> str:
    context = request.context_snapshot.get("context") or {}
    keys = ", ".join(sorted(context)) if isinstance(context, dict) else ""
    redacted = request.context_snapshot.get("redacted") or []
    text = f"context: {keys or 'none'}"
    if redacted:
        text += f" (redacted: {', '.join(map(str, redacted))})"
    if request.context_snapshot_ref:
        text += f" · snapshot `{request.context_snapshot_ref}`"
    return text


def _outcome(request: HumanRequest) -> str:
    """ "*APPROVED* by alice via cli at ...": what settled it, who and when."""
    status, sep, rest = what_happened(request).partition(" ")
    bare = status.rstrip(":")
    outcome = f"*{bare}*{status[len(bare) :]}{sep}{rest}."
    if request.status is RequestStatus.SUPERSEDED:
        outcome += " The new request is posted as its own message."
    return outcome


def see_all(instance_id: str, request: HumanRequest) -> str:
    return f"`gantral requests show {instance_id}/{request.request_id}`"


def not_offered(instance_id: str, request: HumanRequest) -> str:
    """Why Approve and Override are not offered (or refused) on a message that cut its
    arguments, and where to decide instead."""
    ref = f"{instance_id}/{request.request_id}"
    return (
        "The arguments are too long to show here in full, and this policy does not allow "
        f"approving ({request.materiality}) arguments that could not be shown "
        "(`channels.slack.approve_truncated`). See everything with "
        f"`gantral requests show {ref}`, then decide there: `gantral requests approve {ref}` "
        "(or `override`, or the API). Reject stays available here."
    )


def request_message(
    instance_id: str,
    workflow: str,
    team: str,
    request: HumanRequest,
    policy: Policy | None = None,
    standing_in: Sequence[StandingIn] = (),
) -> tuple[str, list[dict[str, Any]]]:
    """The message for `request`: buttons while it is open, the outcome once settled.

    `policy` (the step's pinned policy) names the key fields shown first and whether
    arguments cut to fit Slack may be approved from here. `standing_in`: deputies who
    may decide it for an absent approver, named (and mentioned) while it is open."""
    shown = show(request.arguments, list(policy.key_fields) if policy else [])
    deadline = request.deadline.isoformat(timespec="seconds") if request.deadline else "none"
    fallback = (
        f"{workflow} / {request.step_id}: {request.action} ({request.materiality}) needs "
        f"{', '.join(request.still_needed or request.required_approvers)}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Approval requested"}},
        _section(
            f"*{escape(workflow)}* · step `{request.step_id}` · team {escape(team)}\n"
            f"*Action* `{escape(request.action)}` · *Materiality* {request.materiality}\n"
            f"*Deadline* {deadline} · *Quorum* {request.quorum or '-'}"
        ),
    ]
    if standing_in and request.status is RequestStatus.PENDING and request.resolved_at is None:
        blocks.append(_section(_out_of_office(standing_in)))
    if shown.key_fields is not None:
        blocks.append(_section(shown.key_fields))
    blocks.append(_section(shown.arguments))
    if shown.truncated:
        blocks.append(
            _section(
                "*Not everything is shown*: the arguments are longer than a Slack message "
                f"allows ({shown.total_chars:,} characters). See them all with "
                f"{see_all(instance_id, request)}."
            )
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"digest `{request.args_digest}`"},
                {"type": "mrkdwn", "text": _clip(escape(_context_summary(request)))},
                {"type": "mrkdwn", "text": f"`{instance_id}/{request.request_id}`"},
            ],
        }
    )
    if request.status is RequestStatus.PENDING and request.resolved_at is None:
        value = ActionRef.of(instance_id, request).encode()
        approvable = not shown.truncated or approve_truncated(request, policy)
        buttons = [_button("Reject", REJECT, value, "danger")]
        if approvable:
            buttons.insert(0, _button("Approve", APPROVE, value, "primary"))
            # A standing grant repeats what the human saw: only of arguments shown in full.
            if offered(policy, request) is not None and not shown.truncated:
                buttons.insert(1, _button("Approve and allow the same…", STANDING, value, None))
            buttons.append(_button("Override", OVERRIDE, value, None))
        else:
            blocks.append(
                _section(
                    f"*Approve and Override are not offered here.* "
                    f"{not_offered(instance_id, request)}"
                )
            )
        blocks.append({"type": "actions", "block_id": "gantral_decide", "elements": buttons})
    else:
        blocks.append(_section(_outcome(request)))
        fallback = f"{fallback}: {request.status}"
    return fallback, blocks


class StandingIn(NamedTuple):
    """A deputy who may decide for an absent approver; `mention`: their Slack user id."""

    deputy: str
    delegator: str
    roles: list[str]
    mention: str | None = None


def _out_of_office(standing_in: Sequence[StandingIn]) -> str:
    lines = [
        f"{f'<@{s.mention}> ' if s.mention else ''}{escape(s.deputy)} stands in for "
        f"{escape(s.delegator)} ({', '.join(escape(r) for r in s.roles)})"
        for s in standing_in
    ]
    return "*Out of office* · " + "\n".join(lines)


def _button(text: str, action_id: str, value: str, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def modal(
    kind: str, metadata: str, arguments: dict[str, Any], key_fields: list[str] | None = None
) -> dict[str, Any]:
    """Reject asks why; Override asks why and for the edited arguments (JSON).

    Slack limits an input to 3,000 characters. Arguments longer than that cannot be
    edited here in full: the input then holds only the top-level arguments the policy's
    key fields name, and the keys submitted replace those arguments, the others staying
    as they are (`arguments.override_prefill`)."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": "justification",
            "label": {"type": "plain_text", "text": "Justification"},
            "element": {
                "type": "plain_text_input",
                "action_id": "value",
                "multiline": True,
                "min_length": 1,
                "max_length": INPUT_LIMIT,
            },
        }
    ]
    if kind == OVERRIDE:
        initial, full = override_prefill(arguments, key_fields or [])
        block: dict[str, Any] = {
            "type": "input",
            "block_id": "arguments",
            "label": {"type": "plain_text", "text": "Arguments (JSON; re-checked by policy)"},
            "element": {
                "type": "plain_text_input",
                "action_id": "value",
                "multiline": True,
                "initial_value": initial,
                "max_length": INPUT_LIMIT,
            },
        }
        if not full:
            block["label"]["text"] = "Arguments to change (JSON; re-checked by policy)"
            block["hint"] = {
                "type": "plain_text",
                "text": (
                    "The arguments are too long to edit here in full (Slack allows 3,000 "
                    "characters). Give only the top-level arguments you change: each key "
                    "given replaces that argument, every other argument stays as it is. "
                    "For a larger edit use `gantral requests override INSTANCE --set "
                    "KEY=VALUE`."
                ),
            }
        blocks.append(block)
    title = "Override" if kind == OVERRIDE else "Reject"
    return {
        "type": "modal",
        "callback_id": CALLBACK,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def home_view(items: list[InboxItem], who: str | None) -> dict[str, Any]:
    """App Home: the approver's inbox, most urgent first; above it, per action shared by
    several requests, a button to approve them together (after a modal lists each)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Requests waiting for you"}},
        *batch_buttons(items),
    ]
    if who is None:
        blocks.append(_section("Your Slack user is not mapped to a Gantral approver."))
    elif not items:
        blocks.append(_section("Nothing is waiting for you."))
    for item in items[:40]:
        deadline = item.deadline.isoformat(timespec="minutes") if item.deadline else "no deadline"
        blocks.append(
            _section(
                f"*{item.workflow_id}* · `{item.step_id}` · {item.materiality} · {deadline}\n"
                f"{item.quorum} · `{item.instance_id}/{item.request_id}`"
            )
        )
    return {"type": "home", "blocks": blocks}

"""Block Kit for a human request: the message, its outcome, the decision modal, App Home.

Everything a human must see before deciding: workflow, step, action and arguments with
their digest, materiality, context snapshot summary, deadline and quorum progress.
"""

from __future__ import annotations

import json
from typing import Any

from gantral.channels.inbox import InboxItem
from gantral.domain.records import HumanRequest, RequestStatus

__all__ = [
    "APPROVE",
    "CALLBACK",
    "OVERRIDE",
    "REJECT",
    "ActionRef",
    "home_view",
    "modal",
    "request_message",
]

APPROVE, REJECT, OVERRIDE = "gantral_approve", "gantral_reject", "gantral_override"
CALLBACK = "gantral_decision"
_MAX_TEXT = 2900  # a section's text is limited to 3000 characters


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
    who = request.decided_by or "the system"
    via = request.decided_via or "?"
    if request.status is RequestStatus.SUPERSEDED:
        return "*Superseded*: replaced by a newer request (see the thread)."
    if request.status is RequestStatus.CANCELLED:
        return "*Cancelled* with the instance."
    if via == "timeout":
        return f"*{request.status}* on timeout (no decision before the deadline)."
    return f"*{request.status}* by {who} via {via}."


def request_message(
    instance_id: str, workflow: str, team: str, request: HumanRequest
) -> tuple[str, list[dict[str, Any]]]:
    """The message for `request`: buttons while it is open, the outcome once settled."""
    arguments = json.dumps(request.arguments, indent=2, sort_keys=True, ensure_ascii=False)
    deadline = request.deadline.isoformat(timespec="seconds") if request.deadline else "none"
    fallback = (
        f"{workflow} / {request.step_id}: {request.action} ({request.materiality}) needs "
        f"{', '.join(request.still_needed or request.required_approvers)}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Approval requested"}},
        _section(
            f"*{workflow}* · step `{request.step_id}` · team {team}\n"
            f"*Action* `{request.action}` · *Materiality* {request.materiality}\n"
            f"*Deadline* {deadline} · *Quorum* {request.quorum or '-'}"
        ),
        _section(f"*Arguments*\n```{arguments}```"),
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"digest `{request.args_digest}`"},
                {"type": "mrkdwn", "text": _clip(_context_summary(request))},
                {"type": "mrkdwn", "text": f"`{instance_id}/{request.request_id}`"},
            ],
        },
    ]
    if request.status is RequestStatus.PENDING and request.resolved_at is None:
        value = ActionRef.of(instance_id, request).encode()
        blocks.append(
            {
                "type": "actions",
                "block_id": "gantral_decide",
                "elements": [
                    _button("Approve", APPROVE, value, "primary"),
                    _button("Reject", REJECT, value, "danger"),
                    _button("Override", OVERRIDE, value, None),
                ],
            }
        )
    else:
        blocks.append(_section(_outcome(request)))
        fallback = f"{fallback}: {request.status}"
    return fallback, blocks


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


def modal(kind: str, metadata: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Reject asks why; Override asks why and for the edited arguments (JSON)."""
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
            },
        }
    ]
    if kind == OVERRIDE:
        blocks.append(
            {
                "type": "input",
                "block_id": "arguments",
                "label": {"type": "plain_text", "text": "Arguments (JSON; re-checked by policy)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "initial_value": json.dumps(arguments, indent=2, sort_keys=True),
                },
            }
        )
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
    """App Home: the approver's inbox, most urgent first."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Requests waiting for you"}}
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

"""Slack's "Approve and allow the same…": an APPROVE that also gives a standing grant.

The button is on a pending request's message when the step's pinned policy allows
standing grants (`channels.standing.offered`) and the message showed every argument (a
grant repeats what the human saw, so never one of arguments Slack had to cut). It opens a
modal listing each argument as it will be pinned, exactly, with the TTL and number of uses
to choose within the policy's bounds and whom it serves (this agent, or any agent of the
team). The submission is an APPROVE with `standing`, bound to the digest the message
showed; the core judges it as it judges the API's, and its refusal is told to the user.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from gantral.channels.slack.arguments import escape
from gantral.channels.standing import typed_uses
from gantral.domain.records import HumanRequest
from gantral.errors import Forbidden, Reason
from gantral.governance.standing import ArgumentPattern
from gantral.policy.models import Standing
from gantral.settings.durations import format_duration

__all__ = ["STANDING", "STANDING_CALLBACK", "StandingInput", "read_input", "standing_modal"]

STANDING = "gantral_approve_standing"
STANDING_CALLBACK = "gantral_standing"
_SECTION_LIMIT = 3000
# The TTLs offered, each kept when within the policy's `max_ttl` (which is offered too).
_TTLS = [timedelta(minutes=m) for m in (5, 15, 30, 60, 120, 240, 480, 720, 1440, 10080)]
_DEFAULT_TTL = timedelta(hours=1)
_DEFAULT_USES = 10
_OPTIONS_LIMIT = 100  # Slack: options of a static_select


def _text(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _text(text), "value": value}


def _ttls(bounds: Standing) -> list[timedelta]:
    kept = [t for t in _TTLS if t < bounds.max_ttl]
    return [*kept, bounds.max_ttl][-_OPTIONS_LIMIT:]


def standing_modal(
    metadata: str,
    instance_id: str,
    request: HumanRequest,
    bounds: Standing,
    pattern: dict[str, ArgumentPattern],
) -> dict[str, Any]:
    """The form: what will be approved and `pattern` (every argument pinned), then TTL,
    uses and whom it serves."""
    agent = request.grant_holder or request.requested_by
    head = (
        f"*Approve* `{instance_id}/{request.request_id}` and let later "
        f"`{escape(request.action)}` calls of step `{request.step_id}` through without a "
        "human while every argument is exactly as below. This step's policy allows "
        f"{escape(format_duration(bounds.max_ttl))} and {bounds.max_uses} uses at most, "
        f"given as {escape(' or '.join(bounds.roles))}; Gantral checks it all again."
    )
    pinned = _listed(
        [
            escape(f"{path} = {json.dumps(c.equals, sort_keys=True, ensure_ascii=False)}")
            for path, c in pattern.items()
        ]
    )
    ttls = _ttls(bounds)
    default = max((t for t in ttls if t <= _DEFAULT_TTL), default=ttls[0])
    ttl_options = [_option(format_duration(t), format_duration(t)) for t in ttls]
    serves = [
        _option(f"This agent only ({agent})"[:75], "agent"),
        _option("Any agent of the team", "team"),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        *({"type": "section", "text": {"type": "mrkdwn", "text": t}} for t in pinned),
        {
            "type": "input",
            "block_id": "ttl",
            "label": _text("For how long"),
            "element": {
                "type": "static_select",
                "action_id": "value",
                "options": ttl_options,
                "initial_option": _option(format_duration(default), format_duration(default)),
            },
        },
        {
            "type": "input",
            "block_id": "uses",
            "label": _text(f"How many uses (1 to {bounds.max_uses})"),
            "element": {
                "type": "number_input",
                "action_id": "value",
                "is_decimal_allowed": False,
                "min_value": "1",
                "max_value": str(bounds.max_uses),
                "initial_value": str(min(_DEFAULT_USES, bounds.max_uses)),
            },
        },
        {
            "type": "input",
            "block_id": "serves",
            "label": _text("For"),
            "element": {
                "type": "radio_buttons",
                "action_id": "value",
                "options": serves,
                "initial_option": serves[0],
            },
        },
        {
            "type": "input",
            "block_id": "justification",
            "optional": True,
            "label": _text("Justification"),
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"digest `{request.args_digest}`"}],
        },
    ]
    return {
        "type": "modal",
        "callback_id": STANDING_CALLBACK,
        "private_metadata": metadata,
        "title": _text("Approve and allow"),
        "submit": _text("Approve"),
        "close": _text("Cancel"),
        "blocks": blocks,
    }


def _listed(lines: list[str]) -> list[str]:
    """`lines` in code blocks of one section each, never cut: the human sees every
    argument the grant pins (a listing longer than the message's JSON, as nested paths
    repeat their prefix, takes several sections). Forbidden when one line cannot fit."""
    sections: list[str] = []
    current: list[str] = []
    for line in lines:
        if len(line) + 6 > _SECTION_LIMIT:
            raise Forbidden(
                "an argument is too long for the form to list in full: give a standing "
                "grant through the API or the CLI after seeing them all",
                reason=Reason.ARGUMENTS_NOT_SHOWN,
            )
        if current and len("\n".join([*current, line])) + 6 > _SECTION_LIMIT:
            sections.append("```" + "\n".join(current) + "```")
            current = []
        current.append(line)
    if current:
        sections.append("```" + "\n".join(current) + "```")
    return sections


class StandingInput:
    """What the submitted form says, or `errors` by block for the modal to show."""

    def __init__(self, values: object) -> None:
        self.errors: dict[str, str] = {}
        self.ttl = read_input(values, "ttl")
        raw_uses = read_input(values, "uses")
        self.serves = read_input(values, "serves") or "agent"
        text = read_input(values, "justification").strip()
        self.justification = text or None
        self.uses = 0
        if not self.ttl:
            self.errors["ttl"] = "Choose how long."
        uses = typed_uses(raw_uses)
        if uses is None:
            self.errors["uses"] = "A whole number of uses."
        elif uses < 1:  # the most is the core's to bound (and to say)
            self.errors["uses"] = "At least 1 use."
        else:
            self.uses = uses
        if self.serves not in ("agent", "team"):
            self.errors["serves"] = "Choose this agent or the team."


def read_input(values: object, block: str) -> str:
    """An input's value by block id: typed text and numbers, or the chosen option; ""
    for anything else (a shape Slack never sends reads as nothing, never as an error)."""
    chosen = _at(values, block, "value", "selected_option", "value")
    if isinstance(chosen, str):
        return chosen
    typed = _at(values, block, "value", "value")
    return typed if isinstance(typed, str) else ""


def _at(obj: object, *path: str) -> object:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj

"""What a Slack message can show of a request's arguments, and what may be approved from it.

Slack limits a section's text to 3,000 characters and an input's initial value to 3,000.
Arguments that do not fit are cut, and the message says so and how to see everything.
The policy's `key_fields` are shown first, so a cut never hides what the policy marked as
what an approver must see. Approving arguments that could not be shown in full is a
policy choice (`channels.slack.approve_truncated`): by default allowed below HIGH
materiality and refused at HIGH and CRITICAL, where the approver decides through the CLI
or the API after seeing everything. The same rendering runs when the message is posted
and when a button is clicked, so the check does not trust the message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gantral.domain.materiality import Materiality
from gantral.domain.records import HumanRequest
from gantral.policy.models import Policy

__all__ = [
    "INPUT_LIMIT",
    "Shown",
    "approve_truncated",
    "escape",
    "override_prefill",
    "show",
]

SECTION_LIMIT = 3000  # Slack: a section's text
INPUT_LIMIT = 3000  # Slack: a plain_text_input's initial_value and value
_ABSENT = object()


def escape(text: str) -> str:
    """mrkdwn as literal text: `<`, `>` and `&` would otherwise make links and mentions
    (`<!channel>`), and a ``` in a value would close the code block it is shown in."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("```", "`\u200b``")


@dataclass(frozen=True)
class Shown:
    """The mrkdwn sections that show the arguments, and whether anything was cut."""

    key_fields: str | None
    arguments: str
    truncated: bool
    shown_chars: int
    total_chars: int


def _at(arguments: dict[str, Any], path: str) -> Any:
    value: Any = arguments
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _fit(raw: str, budget: int) -> tuple[str, int]:
    """The longest prefix of `raw` whose escaped form fits `budget` (escaping grows text):
    the escaped prefix and how many characters of `raw` it holds."""
    if len(escape(raw)) <= budget:
        return escape(raw), len(raw)
    low, high = 0, len(raw)
    while low < high:  # the escaped length grows with the prefix: bisect on it
        mid = (low + high + 1) // 2
        if len(escape(raw[:mid])) <= budget:
            low = mid
        else:
            high = mid - 1
    return escape(raw[:low]), low


def _code(title: str, raw: str, note: str) -> tuple[str, bool, int]:
    """`title`, then `raw` in a code block cut to fit one section, `note` saying how much
    was kept; and whether it was cut, and how many characters of `raw` are shown."""
    budget = SECTION_LIMIT - len(title) - len(note) - 60  # fences, the numbers, the "…"
    body, kept = _fit(raw, budget)
    if kept == len(raw):
        return f"{title}\n```{body}```", False, kept
    head = title + note.format(shown=f"{kept:,}", total=f"{len(raw):,}")
    return f"{head}\n```{body}…```", True, kept


def show(arguments: dict[str, Any], key_fields: list[str]) -> Shown:
    """The key fields first (when the policy names any), then every argument, sorted."""
    keys_text: str | None = None
    keys_cut = False
    if key_fields:
        lines = []
        for path in key_fields:
            value = _at(arguments, path)
            shown = "(absent)" if value is _ABSENT else json.dumps(value, ensure_ascii=False)
            lines.append(f"{path}: {shown}")
        keys_text, keys_cut, _ = _code(
            "*Key fields* (named by the policy)",
            "\n".join(lines),
            " (cut: {shown} of {total} characters shown)",
        )
    full = json.dumps(arguments, indent=2, sort_keys=True, ensure_ascii=False)
    text, cut, shown_chars = _code(
        "*Arguments*", full, " (cut: the first {shown} of {total} characters)"
    )
    return Shown(
        key_fields=keys_text,
        arguments=text,
        truncated=cut or keys_cut,
        shown_chars=shown_chars,
        total_chars=len(full),
    )


def approve_truncated(request: HumanRequest, policy: Policy | None) -> bool:
    """May `request` be approved (or overridden) from a message that cut its arguments?
    The policy's `channels.slack.approve_truncated`, else: only below HIGH materiality."""
    slack = policy.channels.slack if policy is not None and policy.channels else None
    if slack is not None and slack.approve_truncated is not None:
        return slack.approve_truncated
    return request.materiality.rank < Materiality.HIGH.rank


def override_prefill(arguments: dict[str, Any], key_fields: list[str]) -> tuple[str, bool]:
    """The override input's initial value, and whether it holds every argument.

    When all arguments fit Slack's 3,000 characters they are all given (an argument left
    out is refused as a removal). Otherwise only the top-level arguments the key fields
    name (or none) are given, and the keys submitted replace those arguments while every
    other argument stays as it is.
    """
    full = json.dumps(arguments, indent=2, sort_keys=True, ensure_ascii=False)
    if len(full) <= INPUT_LIMIT:
        return full, True
    tops = {path.split(".")[0] for path in key_fields}
    subset = {k: v for k, v in arguments.items() if k in tops}
    partial = json.dumps(subset, indent=2, sort_keys=True, ensure_ascii=False)
    return (partial if len(partial) <= INPUT_LIMIT else "{}"), False

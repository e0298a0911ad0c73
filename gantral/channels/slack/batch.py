""" "Approve these N" in Slack: App Home offers, per action, to approve at once the requests
waiting for the user that share it; a modal lists each one before anything is decided.

Safe by construction: the modal shows every request it will decide (action, arguments,
digest prefix, instance and request), and its submission decides each one exactly as a
single Slack approval does (`decide_via_channel`: permission, role, quorum, separation of
duties, each human once), bound to the digest the modal displayed, so a request whose
arguments changed meanwhile is refused alone. The answer lists every outcome, refusals
named. Only requests the user may decide in a role of their own are offered (a deputy
decides one request at a time, as in the API), and only those whose arguments the modal
shows in full unless the policy allows approving cut arguments from Slack.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from gantral.channels.inbox import InboxItem
from gantral.channels.slack.arguments import escape

__all__ = [
    "BATCH_CALLBACK",
    "BATCH_OPEN",
    "MAX_SHOWN",
    "Shown",
    "arguments_text",
    "batch_buttons",
    "batch_modal",
    "deciding_view",
    "encode",
    "outcomes_view",
    "parse_shown",
]

BATCH_OPEN = "gantral_batch_open"
BATCH_CALLBACK = "gantral_batch"
# Requests one modal lists: each is a section (Slack allows 100 blocks), and all of their
# references must fit the view's private_metadata (3,000 characters).
MAX_SHOWN = 15
_METADATA_LIMIT = 3000
# Arguments longer than this are cut in the modal (the policy must allow approving them).
ARGUMENTS_SHOWN = 600
_ACTION_LIMIT = 150  # a button's value and text stay well inside Slack's limits


@dataclass(frozen=True)
class Shown:
    """One request as the modal displayed it: what its submission is bound to."""

    instance_id: str
    request_id: str
    args_digest: str


def batch_buttons(items: list[InboxItem]) -> list[dict[str, Any]]:
    """For each action shared by two or more requests the user may decide in a role of
    their own, a button "Approve all N shown for <action>" (it opens the listing modal)."""
    counts = Counter(item.action for item in items if item.decidable_as)
    elements = [
        {
            "type": "button",
            "action_id": f"{BATCH_OPEN}:{n}",
            "text": {"type": "plain_text", "text": f"Approve all {count} shown for {action}"},
            "value": action,
        }
        for n, (action, count) in enumerate(sorted(counts.items()))
        if count >= 2 and len(action) <= _ACTION_LIMIT
    ]
    # An actions block holds at most 25 elements.
    return [
        {"type": "actions", "block_id": f"gantral_batch_{i}", "elements": elements[i : i + 25]}
        for i in range(0, len(elements), 25)
    ]


def arguments_text(arguments: dict[str, Any]) -> tuple[str, bool]:
    """The arguments as one line of JSON, cut to `ARGUMENTS_SHOWN`; and whether cut."""
    raw = json.dumps(arguments, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if len(raw) <= ARGUMENTS_SHOWN:
        return raw, False
    return raw[:ARGUMENTS_SHOWN] + "…", True


def encode(action: str, shown: list[Shown]) -> tuple[str, list[Shown]]:
    """The modal's private metadata, holding as many of `shown` as fit; and those."""
    kept = list(shown[:MAX_SHOWN])
    while True:
        refs = [[s.instance_id, s.request_id, s.args_digest] for s in kept]
        metadata = json.dumps({"a": action, "x": refs}, separators=(",", ":"))
        if len(metadata) <= _METADATA_LIMIT or not kept:
            return metadata, kept
        kept.pop()


def parse_shown(metadata: str) -> tuple[str, list[Shown]] | None:
    """The action and requests a submitted modal displayed; None if not ours."""
    try:
        data = json.loads(metadata)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), str):
        return None
    refs = data.get("x")
    if not isinstance(refs, list) or not refs:
        return None
    shown: list[Shown] = []
    for ref in refs:
        if not (isinstance(ref, list) and len(ref) == 3 and all(isinstance(v, str) for v in ref)):
            return None
        shown.append(Shown(*ref))
    return data["a"], shown


def _digest_prefix(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def batch_modal(
    action: str, metadata: str, listed: list[tuple[Shown, dict[str, Any]]], left_out: int
) -> dict[str, Any]:
    """The modal listing each request the submission will approve, as it will be bound."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"Approve each of these {len(listed)} requests for `{escape(action)}`."
                " Each is decided on its own, bound to the digest shown: one that changed"
                " since is refused alone.",
            },
        }
    ]
    for shown, arguments in listed:
        text, _ = arguments_text(arguments)
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"`{escape(action)}` · digest `{_digest_prefix(shown.args_digest)}`"
                    f" · `{shown.instance_id}/{shown.request_id}`\n```{escape(text)}```",
                },
            }
        )
    if left_out:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{left_out} more not listed here (too many for one form, or"
                        " arguments too long to approve from Slack): decide them one by one.",
                    }
                ],
            }
        )
    return {
        "type": "modal",
        "callback_id": BATCH_CALLBACK,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Approve several"},
        "submit": {"type": "plain_text", "text": f"Approve all {len(listed)}"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def deciding_view(count: int) -> dict[str, Any]:
    return _result_view(f"Deciding {count} requests… each outcome is listed here when done.")


def outcomes_view(action: str, lines: list[str], decided: int, refused: int) -> dict[str, Any]:
    head = f"`{escape(action)}`: {decided} approved, {refused} refused."
    return _result_view("\n".join([head, *lines]))


def _result_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": f"{BATCH_CALLBACK}_done",
        "title": {"type": "plain_text", "text": "Approve several"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }

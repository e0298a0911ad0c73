"""A standing grant asked for in Jira: the approve transition's comment carries a line

    standing: ttl=30m uses=5 serves=agent

(`serves`: `agent`, the default, or `team`). The transition is then an APPROVE that also
gives a standing grant pinning every argument exactly as the issue showed them
(`channels.standing.pinned_ask`), bound to the digest the relay recorded for the issue;
the rest of the comment is the justification. The core judges the ask as it judges the
API's; a line it cannot read, or a refusal, moves the issue back with a comment saying
why, as every unrecorded transition does. Only for arguments the issue could show in full.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gantral.channels.jira.rest import JIRA_TEXT_LIMIT, adf_size
from gantral.channels.standing import pinned_ask, typed_uses
from gantral.errors import Forbidden, InvalidInput, Reason
from gantral.governance.standing import StandingAsk

__all__ = ["EXAMPLE", "arguments_line", "asks_standing", "standing_asked"]

EXAMPLE = "standing: ttl=30m uses=5 serves=agent"
_LINE = re.compile(r"^[ \t]*standing[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)
_KEYS = {"ttl", "uses", "serves"}
# What the lines above the arguments in an issue's description take, at most.
_HEAD_ROOM = 4096


def arguments_line(arguments: dict[str, Any]) -> str:
    """How an issue's description shows the arguments (its last line)."""
    return f"Arguments: {json.dumps(arguments, sort_keys=True)}"


def asks_standing(comment: str | None) -> bool:
    """Whether the comment carries a `standing:` line."""
    return comment is not None and _LINE.search(comment) is not None


def _quoted(text: str) -> str:
    """`text` as a refusal quotes it: cut, so a huge line makes no huge comment."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _bad(why: str) -> InvalidInput:
    return InvalidInput(
        f"{why}; write the line as `{EXAMPLE}` (serves: agent or team)",
        reason=Reason.INVALID_INPUT,
    )


def standing_asked(
    comment: str | None, arguments: dict[str, Any]
) -> tuple[str | None, StandingAsk | None]:
    """The comment without its `standing:` line (None if nothing else is left), and the
    standing grant the line asks for (None without one). InvalidInput when the line
    cannot be read; Forbidden when the issue cannot have shown the arguments in full."""
    if comment is None:
        return None, None
    lines = _LINE.findall(comment)
    if not lines:
        return comment, None
    if len(lines) > 1:
        raise _bad("more than one standing line")
    settings: dict[str, str] = {}
    for part in lines[0].replace(",", " ").split():
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in _KEYS or key in settings or not value:
            raise _bad(f"cannot read {_quoted(part)}")
        settings[key] = value
    if "ttl" not in settings or "uses" not in settings:
        raise _bad("the standing line needs ttl and uses")
    uses = typed_uses(settings["uses"])
    if uses is None:
        raise _bad(f"uses must be a whole number, not {_quoted(settings['uses'])}")
    if adf_size(arguments_line(arguments)) > JIRA_TEXT_LIMIT - _HEAD_ROOM:
        raise Forbidden(
            "the arguments are too long for the issue to have shown them in full: give a "
            "standing grant through the API or the CLI after seeing them all",
            reason=Reason.ARGUMENTS_NOT_SHOWN,
        )
    ask = pinned_ask(arguments, settings["ttl"], uses, settings.get("serves", "agent"))
    rest = _LINE.sub("", comment).strip()
    return rest or None, ask

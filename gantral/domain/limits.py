"""Per-field limits on the free-form JSON a caller sends (arguments, context, trigger
context, context_delta, detail): I-JSON, bounded depth, bounded size.

Checked at the HTTP edge (422 naming the field) and again by the workflow's Update
validators, so a direct Temporal caller cannot put into an instance what the audit sink
would refuse, or what would make the instance too big to read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from gantral.domain.ijson import find_violation
from gantral.errors import Reason

__all__ = [
    "CURRENCY_PATTERN",
    "MAX_COST_MONEY",
    "MAX_COST_SECONDS",
    "MAX_COST_TOKENS",
    "MAX_FIELD_BYTES",
    "MAX_JUSTIFICATION_CHARS",
    "fields_problem",
]

MAX_FIELD_BYTES = 64 * 1024
"""Largest JSON encoding of one free-form field: well under Temporal's 2 MB payload limit
even with the arguments held by a request, its grant and the snapshot a human is shown."""

MAX_JUSTIFICATION_CHARS = 10_000
"""Longest justification a decision records, whichever way it came (the API, Slack, Jira:
a Jira comment may hold 32,767 characters)."""

# Bounds of an instance's running cost total (and so of any one report): far above any
# real spend, far below where a float loses cents or a sum overflows to infinity, and
# integers within I-JSON (2**53 - 1), so every view stays readable by every client.
MAX_COST_TOKENS = 2**53 - 1
MAX_COST_MONEY = 1e12
"""In the currency's major unit (a trillion dollars, euros, ...)."""
MAX_COST_SECONDS = 1e9
"""About 31 years of wall time."""
CURRENCY_PATTERN = r"^[A-Z]{3}$"
"""An ISO 4217 code, exactly as written there."""


def fields_problem(fields: Mapping[str, object]) -> tuple[Reason, str] | None:
    """(reason, message naming the field) for the first field that breaks a limit."""
    for name, value in fields.items():
        if value is None:
            continue
        violation = find_violation(value, path=name)
        if violation is not None:
            return Reason(violation.reason), violation.message
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > MAX_FIELD_BYTES:
            return (
                Reason.FIELD_TOO_LARGE,
                f"{name}: {size} bytes of JSON; at most {MAX_FIELD_BYTES}",
            )
    return None

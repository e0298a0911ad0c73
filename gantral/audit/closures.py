"""Executions closed around Gantral: how the access log records them, and what an unsealed
chain then means to verification.

An instance ends through Gantral (complete, fail, cancel, a rejection or an expiry): its
workflow records the end, seals the chain, then completes. Temporal's own controls can
close it without any of that: `temporal workflow terminate`, a reset, a run timeout, a
workflow task that fails, or a history deleted or lost. The chain then stops unsealed
with no end event. The sink's detector (`gantral.audit.closure_detector`) notices and
records one fact per closed run in the access log, as a sealed chain of its own:

    gantral-access-log-closed-{instance id}-{run id, or "history-lost"}
    seq 1  EXECUTION_CLOSED  {"instance_id", "run_id", "status", "closed_at", "detected_at",
                              "reason", "temporal_identity", "audit_seq", "audit_head"}
    seq 2  INSTANCE_SEALED   {}

Who closed it cannot be known: the actor is the system, and `temporal_identity` is only
what the Temporal client claimed (unauthenticated). Like every chain it is in the global
Merkle log, signed by checkpoints and exported as a bundle.

Verification (`unsealed_problems`) then reports such an unsealed instance chain as
`closed_unsealed`, and any unsealed instance chain older than the configured maximum as
`unsealed_too_old`, whether or not the detector ran.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gantral.audit.rows import EventRow
from gantral.domain.audit_event import AuditEventType

__all__ = [
    "CLOSED_CHAIN_PREFIX",
    "CLOSED_TYPE",
    "HISTORY_LOST",
    "closed_chain_id",
    "closure_of",
    "is_closed_chain",
    "is_governed_chain",
    "unsealed_problems",
]

CLOSED_TYPE = AuditEventType.EXECUTION_CLOSED
CLOSED_CHAIN_PREFIX = "gantral-access-log-closed-"
# The run of a history Temporal no longer has cannot be named.
HISTORY_LOST = "history-lost"
# Chains that are not instances of their own: the access log (its segments and these
# records) and the archived histories.
_NOT_INSTANCES = ("gantral-access-log-", "gantral-history-")


def closed_chain_id(instance_id: str, run_id: str | None) -> str:
    return f"{CLOSED_CHAIN_PREFIX}{instance_id}-{run_id or HISTORY_LOST}"


def is_closed_chain(chain_id: str) -> bool:
    return chain_id.startswith(CLOSED_CHAIN_PREFIX)


def is_governed_chain(chain_id: str) -> bool:
    """True for an instance's own chain (sealed by its workflow when it ends)."""
    return not chain_id.startswith(_NOT_INSTANCES)


def closure_of(rows: Sequence[EventRow]) -> dict[str, Any] | None:
    """The EXECUTION_CLOSED payload of a record chain, if it holds one."""
    for row in rows:
        if row.type == CLOSED_TYPE:
            body = _body(row)
            payload = body.get("payload") if body else None
            return payload if isinstance(payload, dict) else None
    return None


def _body(row: EventRow) -> dict[str, Any] | None:
    try:
        value = json.loads(row.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _started_at(rows: Sequence[EventRow]) -> datetime | None:
    body = _body(rows[0]) if rows else None
    at = body.get("at") if body else None
    if not isinstance(at, str):
        return None
    try:
        parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def unsealed_problems(
    instance_id: str,
    rows: Sequence[EventRow],
    closures: Sequence[tuple[str, dict[str, Any]]],
    max_age: timedelta | None,
    now: datetime,
) -> list[tuple[str, str, int | None]]:
    """(code, message, seq) for an unsealed instance chain: closed around Gantral, or open
    for longer than `max_age` (None: no limit)."""
    last = rows[-1].seq if rows else None
    problems: list[tuple[str, str, int | None]] = []
    for chain, closure in closures:
        problems.append(
            (
                "closed_unsealed",
                f"its Temporal execution was closed outside Gantral ({closure.get('status')} "
                f"at {closure.get('closed_at')}, run {closure.get('run_id')}, recorded in "
                f"{chain}): the chain ends unsealed with no end event",
                last,
            )
        )
    started = _started_at(rows)
    if max_age is not None and started is not None and now - started > max_age:
        problems.append(
            (
                "unsealed_too_old",
                f"unsealed since {started.isoformat()}, longer than the configured maximum "
                f"of {_days(max_age)} (GANTRAL_AUDIT__MAX_UNSEALED_AGE_DAYS)",
                last,
            )
        )
    return problems


def _days(age: timedelta) -> str:
    days = age.total_seconds() / 86_400
    return f"{days:g} day(s)"

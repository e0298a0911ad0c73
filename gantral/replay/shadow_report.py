"""The shadow report: where a shadow policy would have decided otherwise than the enforced
one, over a window of live traffic, read from the audit log alone.

Every authorize of a step with a shadow recorded one SHADOW_EVALUATED event holding both
outcomes (`gantral.policy.shadow`), so nothing is re-evaluated here: the report counts
what the log says, in backtest's vocabulary (`gantral.replay.backtest`): a decision point
per event, `Change`s of kind outcome, materiality and approvers, counts per kind, and a
few examples per kind naming their instance. `flips` says which way outcomes changed
(ALLOW->PENDING, PENDING->ALLOW) and `materiality_changes` from which level to which.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from psycopg import sql
from pydantic import BaseModel, Field

from gantral.audit.queries import AuditQueries
from gantral.audit.rows import as_bytes, as_int
from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import InstanceStarted, ShadowEvaluated, parse_payload
from gantral.errors import Conflict, InvalidInput, Reason
from gantral.replay.backtest import MAX_EXAMPLES, Change, ChangeKind

__all__ = [
    "MAX_EVENTS",
    "MAX_WINDOW",
    "ShadowError",
    "ShadowReport",
    "changes_of",
    "read_shadow_report",
    "shadow_report",
]

log = logging.getLogger("gantral.replay")

# Bounds one report: the window, and the events read from it (more is refused, never cut
# short: a partial report would count too few flips).
MAX_WINDOW = timedelta(days=31)
MAX_EVENTS = 50_000


class ShadowError(BaseModel):
    """A decision point where the shadow could not be evaluated (the enforced one decided)."""

    instance_id: str
    seq: int
    step_id: str
    error: str


class ShadowReport(BaseModel):
    policy_id: str
    since: str
    until: str
    instances: int
    decision_points: int
    """SHADOW_EVALUATED events of this shadow policy in the window."""
    versions: list[int] = Field(default_factory=list)
    """The shadow versions those instances pinned."""
    evaluated: int
    errors: int
    """Points where the shadow failed (recorded as its error; enforcement unaffected)."""
    unchanged: int
    changed: int
    """Decision points where at least one kind of change occurs."""
    counts: dict[str, int] = Field(default_factory=dict)
    """Per kind: outcome (allowed vs pending), materiality, approvers."""
    flips: dict[str, int] = Field(default_factory=dict)
    """Outcome changes by direction: ALLOW->PENDING, PENDING->ALLOW."""
    materiality_changes: dict[str, int] = Field(default_factory=dict)
    """Materiality changes by direction, e.g. LOW->HIGH."""
    examples: list[Change] = Field(default_factory=list)
    error_examples: list[ShadowError] = Field(default_factory=list)


def changes_of(instance_id: str, seq: int, payload: ShadowEvaluated) -> list[Change]:
    """How the shadow's outcome differs from the enforced one at one SHADOW_EVALUATED
    event: `recorded` is what the enforced policy decided, `candidate` the shadow."""

    def change(kind: ChangeKind, recorded: Any, candidate: Any) -> Change:
        return Change(kind=kind, instance_id=instance_id, seq=seq, step_id=payload.step_id,
                      recorded=recorded, candidate=candidate)  # fmt: skip

    enforced, shadow = payload.enforced_outcome, payload.outcome
    out = []
    if shadow != enforced:
        out.append(change("outcome", enforced, shadow))
    if payload.materiality != payload.enforced_materiality:
        out.append(change("materiality", payload.enforced_materiality, payload.materiality))
    # Approvers compare only where both would ask a human (else the outcome says it all).
    if shadow == enforced == "PENDING":
        before, after = payload.enforced_approvers, payload.approvers
        if before != after:
            out.append(change("approvers", before, after))
    return out


def shadow_report(
    policy_id: str,
    since: datetime,
    until: datetime,
    events: list[tuple[str, int, ShadowEvaluated]],
) -> ShadowReport:
    """The report over `events`: (instance id, seq, SHADOW_EVALUATED payload), log order."""
    report = ShadowReport(
        policy_id=policy_id, since=since.isoformat(), until=until.isoformat(),
        instances=len({instance_id for instance_id, _, _ in events}),
        decision_points=len(events), evaluated=0, errors=0, unchanged=0, changed=0,
        counts={"outcome": 0, "materiality": 0, "approvers": 0},
        flips={"ALLOW->PENDING": 0, "PENDING->ALLOW": 0},
    )  # fmt: skip
    versions: set[int] = set()
    for instance_id, seq, payload in events:
        if payload.policy_version is not None:
            versions.add(payload.policy_version)
        if payload.error is not None or payload.outcome is None:
            report.errors += 1
            if len(report.error_examples) < MAX_EXAMPLES:
                error = ShadowError(instance_id=instance_id, seq=seq, step_id=payload.step_id,
                                    error=str(payload.error))  # fmt: skip
                report.error_examples.append(error)
            continue
        report.evaluated += 1
        changes = changes_of(instance_id, seq, payload)
        if not changes:
            report.unchanged += 1
            continue
        report.changed += 1
        for change in changes:
            report.counts[change.kind] += 1
            direction = f"{change.recorded}->{change.candidate}"
            if change.kind == "outcome":
                report.flips[direction] = report.flips.get(direction, 0) + 1
            elif change.kind == "materiality":
                report.materiality_changes[direction] = (
                    report.materiality_changes.get(direction, 0) + 1
                )
            if sum(e.kind == change.kind for e in report.examples) < MAX_EXAMPLES:
                report.examples.append(change)
    report.versions = sorted(versions)
    return report


def _shadow_evaluated(instance_id: object, seq: object, body: object) -> ShadowEvaluated | None:
    """A SHADOW_EVALUATED row's payload; None (logged, left out of the report) when it
    does not parse: the report counts what the log says, never guesses."""
    try:
        payload = parse_payload(AuditEventType.SHADOW_EVALUATED, _payload_of(body))
    except ValueError as error:
        log.warning("shadow report skips %s seq %s: %s", instance_id, seq, error)
        return None
    assert isinstance(payload, ShadowEvaluated)
    return payload


def _payload_of(body: object) -> object:
    decoded = json.loads(as_bytes(body))
    return decoded.get("payload") if isinstance(decoded, dict) else None


def check_window(since: datetime, until: datetime) -> None:
    """A window has a time zone (422), is ordered and at most `MAX_WINDOW` long (409)."""
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInput(
            "since and until need a time zone (e.g. 2026-12-01T00:00:00Z)",
            reason=Reason.INVALID_WINDOW,
        )
    # Each time is valid alone: their order and distance are a conflict (409), as for
    # other fields that contradict each other.
    if since >= until:
        raise Conflict("since must be before until", reason=Reason.INVALID_WINDOW)
    if until - since > MAX_WINDOW:
        raise Conflict(
            f"the window is at most {MAX_WINDOW.days} days: narrow since/until",
            reason=Reason.WINDOW_TOO_LARGE,
        )


async def read_shadow_report(
    queries: AuditQueries,
    policy_id: str,
    since: datetime,
    until: datetime,
    teams: list[str] | None,
) -> ShadowReport:
    """The report for `policy_id` over [since, until), on instances of `teams` only when
    given (None: every team)."""
    check_window(since, until)
    events = queries.db.table("events")
    # As in the backtest: a body holding U+0000 cannot be cast to jsonb; it is read and
    # filtered here instead, so one event cannot make every report fail.
    text = sql.SQL("convert_from(body, 'UTF8')")
    query = sql.SQL(
        "SELECT instance_id, seq, body FROM {} WHERE type = 'SHADOW_EVALUATED'"
        " AND at >= %s AND at < %s AND CASE WHEN strpos({}, '\\u0000') > 0 THEN true"
        " ELSE {}::jsonb -> 'payload' ->> 'policy_id' = %s END ORDER BY log_index LIMIT %s"
    ).format(events, text, text)
    starts = sql.SQL(
        "SELECT instance_id, body FROM {} WHERE type = 'INSTANCE_STARTED'"
        " AND instance_id = ANY(%s::text[])"
    ).format(events)
    async with queries.db.connection() as conn:
        params = (since, until, policy_id, MAX_EVENTS + 1)
        rows = await (await conn.execute(query, params)).fetchall()
        if len(rows) > MAX_EVENTS:
            raise Conflict(
                f"more than {MAX_EVENTS} shadow evaluations of {policy_id} in the window:"
                " narrow it (since, until)",
                reason=Reason.SHADOW_REPORT_TOO_LARGE,
            )
        found: list[tuple[str, int, ShadowEvaluated]] = []
        for instance_id, seq, body in rows:
            payload = _shadow_evaluated(instance_id, seq, body)
            if payload is not None and payload.policy_id == policy_id:
                found.append((str(instance_id), as_int(seq), payload))
        if teams is not None and found:
            ids = sorted({instance_id for instance_id, _, _ in found})
            started = await (await conn.execute(starts, (ids,))).fetchall()
            team_of = {str(i): _team_of(str(i), b) for i, b in started}
            found = [e for e in found if team_of.get(e[0]) in teams]
    return shadow_report(policy_id, since, until, found)


def _team_of(instance_id: str, body: object) -> str | None:
    """The owning team its INSTANCE_STARTED records; None (logged: the instance is left
    out of a team-scoped report, never shown to a team it may not belong to)."""
    try:
        started = parse_payload(AuditEventType.INSTANCE_STARTED, _payload_of(body))
    except ValueError as error:
        log.warning("shadow report leaves out %s: its start does not parse: %s", instance_id,
                    error)  # fmt: skip
        return None
    assert isinstance(started, InstanceStarted)
    return started.owning_team_id

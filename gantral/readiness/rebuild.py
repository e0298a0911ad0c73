"""Counters recomputed from the instances themselves: their audit log says which
governed steps started and have not ended, and what cost was reported when.

Reading the audit log is fine; writing to it is what readiness never does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any

from psycopg import sql

from gantral.audit.db import Database
from gantral.audit.rows import as_bytes
from gantral.domain.audit_event import AuditEventType as T
from gantral.domain.audit_payloads import (
    AgentEventRecorded,
    CostReported,
    InstanceStarted,
    StateTransition,
    parse_payload,
)
from gantral.domain.states import TERMINAL_STATES
from gantral.postgres_transaction import transaction
from gantral.readiness.evaluate import RATE_WINDOW, period_bounds
from gantral.readiness.gate import ReadinessGate
from gantral.readiness.store import InstanceUsage, RunningStep, SpendItem

__all__ = ["audit_usages", "rebuild_from_audit", "rebuild_if_lost", "usage_from_events"]

_TYPES = [T.INSTANCE_STARTED, T.AGENT_EVENT, T.COST_REPORTED, T.STATE_TRANSITION, T.INSTANCE_SEALED]
_ENDS = {"STEP_COMPLETED", "STEP_FAILED"}
log = logging.getLogger("gantral.readiness")


def usage_from_events(
    instance_id: str, events: Iterable[Mapping[str, Any]]
) -> InstanceUsage | None:
    """One instance's usage from its audit events (dicts with type, at, actor, payload),
    in sequence order. None when the log has no start event (nothing to attribute). An
    event whose payload does not parse is skipped (logged): the counters are a projection,
    and one unreadable event must not stop the gate from starting."""
    team = workflow = None
    running: dict[str, RunningStep] = {}
    spend: list[SpendItem] = []
    ended = False
    for event in events:
        kind = event["type"]
        if kind == T.INSTANCE_SEALED:
            ended = True
            continue
        try:
            p = parse_payload(kind, event.get("payload") or {})
        except ValueError as error:
            log.warning("readiness rebuild skips %s of %s: %s", kind, instance_id, error)
            continue
        at = _time(event["at"])
        if isinstance(p, InstanceStarted):
            team, workflow = p.owning_team_id, p.workflow_id
        elif isinstance(p, AgentEventRecorded) and p.step_id:
            if p.kind == "STEP_STARTED":
                agent = str((event.get("actor") or {}).get("id", ""))
                running[p.step_id] = RunningStep(p.step_id, agent, at)
            elif p.kind in _ENDS:
                running.pop(p.step_id, None)
        elif isinstance(p, CostReported):
            spend.append(SpendItem(at, p.tokens, p.money, p.currency))
        elif isinstance(p, StateTransition) and p.to_state in TERMINAL_STATES:
            ended = True
    if team is None or workflow is None:
        return None
    steps = () if ended else tuple(running.values())
    return InstanceUsage(instance_id, team, workflow, steps, tuple(spend))


async def audit_usages(db: Database, since: datetime) -> AsyncIterator[InstanceUsage]:
    """Every instance that may hold capacity or have spent within a budget period: the
    ones not sealed yet, and those with an event since `since` (the longest period's
    start). Streamed instance by instance."""
    events, seals = db.table("events"), db.table("seals")
    query = sql.SQL(
        "SELECT instance_id, body FROM {events} WHERE type = ANY(%s) AND instance_id IN ("
        " SELECT instance_id FROM {events} WHERE at >= %s"
        " UNION SELECT DISTINCT e.instance_id FROM {events} e"
        " WHERE NOT EXISTS (SELECT 1 FROM {seals} s WHERE s.instance_id = e.instance_id))"
        " ORDER BY instance_id, seq"
    ).format(events=events, seals=seals)
    current: str | None = None
    batch: list[dict[str, Any]] = []
    async with (
        db.connection() as conn,
        transaction(conn),
        conn.cursor(name="readiness_rebuild") as cur,
    ):
        await cur.execute(query, ([str(t) for t in _TYPES], since))
        async for row in cur:
            instance_id, body = str(row[0]), row[1]
            if instance_id != current:
                if current is not None and (usage := usage_from_events(current, batch)):
                    yield usage
                current, batch = instance_id, []
            batch.append(json.loads(as_bytes(body)))
    if current is not None and (usage := usage_from_events(current, batch)):
        yield usage


async def rebuild_from_audit(gate: ReadinessGate, db: Database, now: datetime) -> int:
    """Replace the gate's counters by what the audit log proves. Returns instances read."""
    if gate.store is None:
        return 0
    return await gate.store.rebuild(await _usages(gate, db, now), now)


async def rebuild_if_lost(gate: ReadinessGate, db: Database, now: datetime) -> int | None:
    """At startup: an empty store (new, restored, truncated) is refilled from the audit
    log, so losing the counters needs no operator step. Counters that hold anything are
    left alone (a rebuild would drop reservations not started yet). None: nothing done."""
    if gate.store is None or not await gate.store.empty():
        return None
    return await gate.store.rebuild_if_empty(await _usages(gate, db, now), now)


async def _usages(gate: ReadinessGate, db: Database, now: datetime) -> list[InstanceUsage]:
    rules = gate.active.rules
    starts = [now - RATE_WINDOW]
    for team in (rules.default_team, *rules.teams.values()):
        if team.budget is not None:
            starts.append(period_bounds(team.budget.period, now)[0])
    return [u async for u in audit_usages(db, min(starts))]


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))

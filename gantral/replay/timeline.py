"""An instance's timeline, rebuilt from audit event bodies alone.

The same function reads the audit log's stored bodies and the events a history (or a
replay of it) sent, so "the log and the execution agree" is an equality of timelines.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field

from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import CostReported, StateTransition, parse_payload

__all__ = ["Timeline", "TimelineCost", "TimelineEntry", "build_timeline"]

log = logging.getLogger("gantral.replay")

_SECTIONS: dict[str, str] = {
    AuditEventType.STATE_TRANSITION: "transitions",
    AuditEventType.POLICY_EVALUATED: "evaluations",
    AuditEventType.HUMAN_REQUESTED: "requests",
    AuditEventType.REQUEST_SUPERSEDED: "requests",
    AuditEventType.DECISION_RECORDED: "decisions",
    AuditEventType.ESCALATED: "escalations",
    AuditEventType.REMINDER_SENT: "escalations",
    AuditEventType.TIMED_OUT: "escalations",
    AuditEventType.DEADLINE_FROZEN: "escalations",
    AuditEventType.DEADLINE_RESUMED: "escalations",
    AuditEventType.GRANT_ISSUED: "grants",
    AuditEventType.GRANT_USED: "grants",
    AuditEventType.AGENT_EVENT: "agent",
    AuditEventType.VIOLATION: "agent",
    AuditEventType.COST_REPORTED: "costs",
}


class TimelineEntry(BaseModel):
    seq: int
    type: str
    at: str
    actor: str
    payload: dict[str, Any]
    snapshot_sha256: str | None = None


class TimelineCost(BaseModel):
    tokens: int = 0
    money: float = 0.0
    wall_time_seconds: float = 0.0


class Timeline(BaseModel):
    """What happened to one instance, section by section, each in audit order."""

    instance_id: str
    started: TimelineEntry | None = None
    transitions: list[TimelineEntry] = Field(default_factory=list)
    evaluations: list[TimelineEntry] = Field(default_factory=list)
    requests: list[TimelineEntry] = Field(default_factory=list)
    decisions: list[TimelineEntry] = Field(default_factory=list)
    escalations: list[TimelineEntry] = Field(default_factory=list)
    grants: list[TimelineEntry] = Field(default_factory=list)
    agent: list[TimelineEntry] = Field(default_factory=list)
    costs: list[TimelineEntry] = Field(default_factory=list)
    cost: TimelineCost = Field(default_factory=TimelineCost)
    final_state: str | None = None
    sealed: bool = False
    events: int = 0


def build_timeline(instance_id: str, bodies: list[dict[str, Any]]) -> Timeline:
    """`bodies` are stored event bodies (`gantral.audit.encoding.body_dict`), any order."""
    timeline = Timeline(instance_id=instance_id)
    for body in sorted(bodies, key=lambda b: int(b.get("seq", 0))):
        timeline.events += 1
        kind = str(body.get("type"))
        snapshot = body.get("snapshot")
        entry = TimelineEntry(
            seq=int(body.get("seq", 0)),
            type=kind,
            at=str(body.get("at")),
            actor=str((body.get("actor") or {}).get("id")),
            payload=dict(body.get("payload") or {}),
            snapshot_sha256=snapshot.get("sha256") if isinstance(snapshot, dict) else None,
        )
        if kind == AuditEventType.INSTANCE_STARTED:
            timeline.started = entry
        elif kind == AuditEventType.INSTANCE_SEALED:
            timeline.sealed = True
        section = _SECTIONS.get(kind)
        if section is not None:
            getattr(timeline, section).append(entry)
        if kind in (AuditEventType.STATE_TRANSITION, AuditEventType.COST_REPORTED):
            _apply(timeline, entry)
    return timeline


def _apply(timeline: Timeline, entry: TimelineEntry) -> None:
    """A transition's state and a cost report's amounts, read through their models. An
    entry whose payload does not parse stays listed but changes neither (logged): the
    timeline shows what the log holds, and comparing timelines still finds it."""
    try:
        p = parse_payload(entry.type, entry.payload)
    except ValueError as error:
        log.warning("timeline of %s: seq %s does not parse: %s", timeline.instance_id,
                    entry.seq, error)  # fmt: skip
        return
    if isinstance(p, StateTransition):
        timeline.final_state = str(p.to_state)
    elif isinstance(p, CostReported):
        timeline.cost = TimelineCost(
            tokens=timeline.cost.tokens + p.tokens,
            money=timeline.cost.money + p.money,
            wall_time_seconds=timeline.cost.wall_time_seconds + p.wall_time_seconds,
        )

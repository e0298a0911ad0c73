"""Three records of one instance, checked against each other event by event.

    audit log   the stored bodies and chain hashes (the record)
    history     the audit events the workflow scheduled, and the hashes the sink answered
    replay      the audit events today's code sends when it replays the history

The history's events, encoded exactly as the sink encodes them, must be the log's bodies
byte for byte (and the answered hashes the log's hashes); today's code must send the
history's events unchanged; and the workflow's own final view (its transitions,
decisions and cost) must equal the timeline the log alone gives.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from gantral.audit.encoding import body_dict
from gantral.audit.rows import EventRow
from gantral.audit.snapshots import prepare_snapshot
from gantral.domain.audit_event import AuditEvent
from gantral.domain.digest import canonical_bytes
from gantral.replay.history import HistoryContent
from gantral.replay.timeline import Timeline

__all__ = [
    "Divergence",
    "audit_vs_history",
    "history_additions",
    "history_vs_replay",
    "result_vs_timeline",
]


class Divergence(BaseModel):
    """One disagreement: which records, at which event, and both sides."""

    between: str  # "audit/history", "history/replay", "audit/result"
    seq: int | None
    field: str
    expected: Any
    found: Any
    message: str


def audit_vs_history(rows: list[EventRow], content: HistoryContent) -> list[Divergence]:
    out: list[Divergence] = []
    sent = {e.seq: e for e in content.audit_events}
    stored = content.stored
    by_seq = {row.seq: row for row in rows}
    for seq in sorted(set(sent) | set(by_seq)):
        row, event = by_seq.get(seq), sent.get(seq)
        if event is None:
            out.append(
                _div(
                    "audit/history",
                    seq,
                    "event",
                    None,
                    row and row.type,
                    "stored in the audit log but never sent by the workflow",
                )
            )
            continue
        if row is None:
            if seq in stored:
                out.append(
                    _div(
                        "audit/history",
                        seq,
                        "event",
                        event.type,
                        None,
                        "the sink answered it as stored, but the log lacks it",
                    )
                )
            # Else still in flight (scheduled, not yet answered): not a disagreement.
            continue
        body = json.loads(row.body)
        problem = _snapshot_problem(event, body.get("snapshot"))
        if problem is not None:
            out.append(_div("audit/history", seq, "snapshot", None, body.get("snapshot"), problem))
            continue
        expected = body_dict(event, body.get("snapshot"))
        if canonical_bytes(expected) != row.body:
            field = _first_field(expected, body)
            out.append(
                _div(
                    "audit/history",
                    seq,
                    field,
                    _at(expected, field),
                    _at(body, field),
                    "the stored body is not the event the workflow sent",
                )
            )
        answered = stored.get(seq)
        if answered is not None and answered.hash != row.hash.hex():
            out.append(
                _div(
                    "audit/history",
                    seq,
                    "hash",
                    answered.hash,
                    row.hash.hex(),
                    "the chain hash differs from the one the sink answered",
                )
            )
    return out


def history_vs_replay(content: HistoryContent, replayed: list[AuditEvent]) -> list[Divergence]:
    out: list[Divergence] = []
    recorded = {e.seq: e.model_dump(mode="json") for e in content.audit_events}
    today = {e.seq: e.model_dump(mode="json") for e in replayed}
    for seq in sorted(set(recorded) | set(today)):
        a, b = recorded.get(seq), today.get(seq)
        if a == b:
            continue
        if a is None or b is None:
            message = (
                "today's code sends an event the history lacks"
                if a is None
                else ("today's code no longer sends this event")
            )
            out.append(
                _div("history/replay", seq, "event", a and a["type"], b and b["type"], message)
            )
            continue
        if _extends(b, a):
            continue  # only fields added: see `history_additions`
        field = _first_field(a, b)
        out.append(
            _div(
                "history/replay",
                seq,
                field,
                _at(a, field),
                _at(b, field),
                "today's code sends a different event than the history recorded",
            )
        )
    return out


def history_additions(content: HistoryContent, replayed: list[AuditEvent]) -> list[Divergence]:
    """Events today's code sends with fields the recorded ones lack, and nothing else
    changed: a message or payload that grew a field with a default. Not a divergence:
    stored events are never re-sent, and nothing recorded is contradicted."""
    recorded = {e.seq: e.model_dump(mode="json") for e in content.audit_events}
    out = []
    for event in replayed:
        a, b = recorded.get(event.seq), event.model_dump(mode="json")
        if a is not None and a != b and _extends(b, a):
            field = _first_field(a, b)
            out.append(_div("history/replay", event.seq, field, None, _at(b, field),
                            "today's code adds this field to the event"))  # fmt: skip
    return out


def _extends(bigger: Any, smaller: Any) -> bool:
    """`bigger` equals `smaller` but for object members `smaller` lacks."""
    if isinstance(bigger, dict) and isinstance(smaller, dict):
        return all(k in bigger and _extends(bigger[k], v) for k, v in smaller.items())
    return bool(bigger == smaller)


def result_vs_timeline(content: HistoryContent, timeline: Timeline) -> list[Divergence]:
    """The workflow's final view against the log's timeline (only once the run closed)."""
    view = content.result
    if view is None:
        return []
    out: list[Divergence] = []
    transitions = [t.model_dump(mode="json", exclude={"actor"}) for t in view.transitions]
    logged = [e.payload for e in timeline.transitions]
    if transitions != logged:
        i = next(
            (i for i, (a, b) in enumerate(zip(transitions, logged, strict=False)) if a != b), None
        )
        i = min(len(transitions), len(logged)) if i is None else i
        seq = timeline.transitions[i].seq if i < len(timeline.transitions) else None
        out.append(
            _div(
                "audit/result",
                seq,
                f"transitions[{i}]",
                transitions[i] if i < len(transitions) else None,
                logged[i] if i < len(logged) else None,
                "the workflow's transitions differ from the log's",
            )
        )
    decided = [d.decision_id for d in view.decisions]
    logged_ids = [e.payload.get("decision_id") for e in timeline.decisions]
    if decided != logged_ids:
        out.append(
            _div(
                "audit/result",
                None,
                "decisions",
                decided,
                logged_ids,
                "the workflow's decisions differ from the log's",
            )
        )
    cost = view.cost
    mine = (cost.tokens, cost.money, cost.wall_time_seconds)
    theirs = (timeline.cost.tokens, timeline.cost.money, timeline.cost.wall_time_seconds)
    if mine != theirs:
        out.append(
            _div(
                "audit/result",
                None,
                "cost",
                list(mine),
                list(theirs),
                "the workflow's cost differs from the sum the log records",
            )
        )
    if str(view.state) != timeline.final_state:
        out.append(
            _div(
                "audit/result",
                None,
                "state",
                str(view.state),
                timeline.final_state,
                "the workflow's final state differs from the log's last transition",
            )
        )
    return out


def _snapshot_problem(event: AuditEvent, ref: Any) -> str | None:
    """The stored reference must be what the sink makes of the snapshot that was sent."""
    if event.snapshot is None:
        return None if ref is None else "a snapshot reference for an event sent without one"
    if not isinstance(ref, dict) or not isinstance(ref.get("redacted"), list):
        return "the event was sent with a snapshot, the log holds no reference to it"
    try:
        _, expected = prepare_snapshot(event.snapshot, [str(p) for p in ref["redacted"]])
    except Exception as error:  # a malformed path in the stored reference
        return f"the stored snapshot reference cannot be reproduced: {error}"
    if expected != ref:
        return "the stored snapshot hash is not the hash of the snapshot that was sent"
    return None


def _first_field(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> str:
    """The dotted path of the first key (sorted) where the two documents differ."""
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        path = f"{prefix}{key}"
        if isinstance(x, dict) and isinstance(y, dict):
            return _first_field(x, y, path + ".")
        return path
    return prefix.rstrip(".") or "(document)"


def _at(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _div(
    between: str, seq: int | None, field: str, expected: Any, found: Any, message: str
) -> Divergence:
    return Divergence(
        between=between, seq=seq, field=field, expected=expected, found=found, message=message
    )

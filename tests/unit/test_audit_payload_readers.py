"""Projections read payloads through the models: events an earlier release wrote count as
they always did, and an event no model fits is skipped with a log line, never raised on
(a projection must not stall on one event)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gantral.audit.read_model import Stored
from gantral.audit.reader import _refusal_view
from gantral.audit.rows import EventRow
from gantral.observability.metrics import GantralMetrics
from gantral.readiness.rebuild import usage_from_events
from gantral.replay.timeline import build_timeline
from tests.helpers.older_payloads import older

AT = "2026-11-25T12:55:00Z"


def _event(seq: int, type_: str, payload: object, actor: str = "bot-1") -> dict[str, Any]:
    return {"seq": seq, "type": type_, "at": AT, "actor": {"id": actor}, "payload": payload}


def _first_release_instance() -> list[dict[str, Any]]:
    return [
        _event(1, "INSTANCE_STARTED", older("INSTANCE_STARTED")),
        _event(2, "AGENT_EVENT", older("AGENT_EVENT")),  # STEP_STARTED, no idempotency key
        _event(3, "COST_REPORTED", older("COST_REPORTED")),  # money spelled 0
        _event(4, "AGENT_EVENT", {"kind": "STEP_STARTED"}),  # a COST-like event: no step
    ]


def test_readiness_rebuild_reads_an_instance_the_first_release_wrote() -> None:
    usage = usage_from_events("inst_1", _first_release_instance())
    assert usage is not None
    assert (usage.team, usage.workflow_id) == ("payments", "deploy")
    assert [(r.step_id, r.agent_id) for r in usage.running] == [("deploy", "bot-1")]
    assert [(s.tokens, s.money, s.currency) for s in usage.spend] == [(120, 0.0, "USD")]
    ended = [*_first_release_instance(), _event(5, "STATE_TRANSITION", older("STATE_TRANSITION"))]
    approved = usage_from_events("inst_1", ended)
    assert approved is not None and approved.running  # APPROVED is not an end
    sealed = [*_first_release_instance(), _event(5, "INSTANCE_SEALED", {})]
    assert usage_from_events("inst_1", sealed).running == ()  # type: ignore[union-attr]


def test_readiness_rebuild_skips_what_no_model_reads(caplog: pytest.LogCaptureFixture) -> None:
    events = [
        *_first_release_instance(),
        _event(5, "COST_REPORTED", {"tokens": "many"}),
        _event(6, "AGENT_EVENT", ["not", "an", "object"]),
        _event(7, "SOMETHING_NEWER", {"x": 1}),
    ]
    usage = usage_from_events("inst_1", events)
    assert usage is not None and len(usage.spend) == 1 and len(usage.running) == 1
    assert caplog.text.count("readiness rebuild skips") == 3
    # Without a readable start, nothing is attributed.
    unreadable_start = [_event(1, "INSTANCE_STARTED", {"workflow_id": "deploy"})]
    assert usage_from_events("inst_2", unreadable_start) is None


def test_a_timeline_lists_an_unreadable_event_but_takes_nothing_from_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bodies = [
        *_first_release_instance(),
        _event(5, "STATE_TRANSITION", older("STATE_TRANSITION")),
        _event(6, "STATE_TRANSITION", {"to_state": "NO_SUCH_STATE"}),
        _event(7, "COST_REPORTED", {"tokens": 5}),
    ]
    timeline = build_timeline("inst_1", bodies)
    assert timeline.final_state == "APPROVED"
    assert (timeline.cost.tokens, timeline.cost.wall_time_seconds) == (120, 1.5)
    assert [e.seq for e in timeline.transitions] == [5, 6] and len(timeline.costs) == 2
    assert "seq 6 does not parse" in caplog.text and "seq 7 does not parse" in caplog.text


def _count(metrics: GantralMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_metrics_count_old_events_and_skip_unreadable_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = GantralMetrics()
    at = datetime(2026, 11, 25, 12, 55, tzinfo=UTC)
    refused = older("ACCESS_REFUSED")  # before instance_id was recorded
    metrics.committed([
        Stored("DECISION_RECORDED", at, older("DECISION_RECORDED"), materiality="HIGH"),
        Stored("ACCESS_REFUSED", at, refused),
        Stored("ACCESS_REFUSED", at, {"reason": "forbidden"}),  # no model reads it
        Stored("STATE_TRANSITION", at, {**older("STATE_TRANSITION"), "to_state": "COMPLETED"},
               workflow="deploy", team="payments"),
    ], now=at)  # fmt: skip
    assert _count(metrics, "gantral_requests_decided_total", decision_type="APPROVE",
                  materiality="HIGH") == 1  # fmt: skip
    assert _count(metrics, "gantral_refusals_total", attempted="decide", reason="forbidden") == 1
    assert _count(metrics, "gantral_instances_finished_total", workflow="deploy",
                  team="payments", outcome="COMPLETED") == 1  # fmt: skip
    # Every stored event is counted by type, the unreadable one included.
    assert _count(metrics, "gantral_sink_events_total", type="ACCESS_REFUSED") == 2
    assert "metrics skip a ACCESS_REFUSED payload" in caplog.text


def _refusal(payload: object) -> EventRow:
    body = json.dumps({"type": "ACCESS_REFUSED", "at": AT, "actor": {"id": "eve"},
                       "payload": payload}).encode()  # fmt: skip
    return EventRow(7, "gantral-access-log", 3, "ACCESS_REFUSED", body, b"\0" * 32, b"\1" * 32)


def test_refusals_list_old_events_and_unreadable_ones_without_their_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    at = datetime(2026, 11, 25, 12, 55, tzinfo=UTC)
    old = _refusal_view(_refusal(older("ACCESS_REFUSED")), at)  # before instance_id
    assert (old.instance_id, old.request_id, old.attempted, old.reason, old.message) == (
        None, "req_1", "decide", "forbidden", "no",
    )  # fmt: skip
    row = _refusal({"attempted": "decide", "reason": "forbidden", "request_id": 5})
    unreadable = _refusal_view(row, at)
    # Still listed, with the exact bytes to check; nothing taken from a payload no model fits.
    assert (unreadable.seq, unreadable.actor, unreadable.body) == (
        3,
        {"id": "eve"},
        row.body.decode(),
    )
    assert (unreadable.request_id, unreadable.attempted, unreadable.reason) == (None, "", "")
    assert "refusal gantral-access-log seq 3 listed without its payload" in caplog.text

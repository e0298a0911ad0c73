"""Audit log against history against replay, on a committed history and no servers: the
audit rows are rebuilt exactly as the sink stores them, then altered one way at a time."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from gantral.audit.encoding import GENESIS, chain_hash, encode_body
from gantral.audit.rows import EventRow
from gantral.audit.snapshots import prepare_snapshot
from gantral.domain.digest import canonical_bytes
from gantral.replay.history import read_content
from gantral.replay.replayer import NonDeterminism, ReplayOutcome
from gantral.replay.service import build_report

HISTORY = Path(__file__).parents[1] / "integration" / "histories" / "approve-after-restart.json"
# The sink that stored this history's events redacted these paths (tests' settings).
REDACT = ["$.context.prompt"]


@pytest.fixture(scope="module")
def runs() -> list[WorkflowHistory]:
    return [WorkflowHistory.from_json("recorded", HISTORY.read_text())]


@pytest.fixture
def replayed(runs: list[WorkflowHistory]) -> ReplayOutcome:
    """A deterministic replay that sent exactly the history's events (the workflow code's
    own replay is the corpus test's business: tests/replay)."""
    content = read_content(runs)
    return ReplayOutcome(runs=1, events=content.events, seconds=0.1, sent=content.audit_events)


def _rows(runs: list[WorkflowHistory]) -> list[EventRow]:
    """What the sink stored for the history's events: bodies, snapshot refs, chain."""
    rows, prev = [], GENESIS
    for i, event in enumerate(read_content(runs).audit_events):
        ref = None if event.snapshot is None else prepare_snapshot(event.snapshot, REDACT)[1]
        body = encode_body(event, ref)
        digest = chain_hash(prev, body)
        rows.append(EventRow(i, event.instance_id, event.seq, str(event.type), body, prev, digest,
                             ref and ref["key"], ref and ref["sha256"]))  # fmt: skip
        prev = digest
    return rows


def _rechain(rows: list[EventRow]) -> list[EventRow]:
    """Recompute every link, as an attacker rewriting the database would."""
    out, prev = [], GENESIS
    for row in rows:
        out.append(replace(row, prev_hash=prev, hash=chain_hash(prev, row.body)))
        prev = out[-1].hash
    return out


def test_rebuilt_rows_are_the_hashes_the_sink_answered(
    runs: list[WorkflowHistory], replayed: ReplayOutcome
) -> None:
    rows = _rows(runs)
    stored = read_content(runs).stored
    assert [r.hash.hex() for r in rows] == [stored[r.seq].hash for r in rows]
    report = build_report(rows[0].instance_id, rows, runs, "temporal", replayed, sealed=True,
                          checkpoint=None, attestor=None)  # fmt: skip
    assert report.replay.deterministic
    audit_history = [d for d in report.divergences if d.between != "history/replay"]
    assert audit_history == []
    assert report.timeline.final_state == "COMPLETED"
    assert [e.payload["to_state"] for e in report.timeline.transitions][-1] == "COMPLETED"


def test_an_altered_body_is_the_first_divergence(
    runs: list[WorkflowHistory], replayed: ReplayOutcome
) -> None:
    rows = _rows(runs)
    decided = next(i for i, r in enumerate(rows) if r.type == "DECISION_RECORDED")
    body = json.loads(rows[decided].body)
    body["payload"]["role"] = "CFO"
    rows[decided] = replace(rows[decided], body=canonical_bytes(body))
    rows = _rechain(rows)
    report = build_report(rows[0].instance_id, rows, runs, "temporal", replayed, sealed=True,
                          checkpoint=None, attestor=None)  # fmt: skip
    assert not report.match
    found = [d for d in report.divergences if d.between == "audit/history"]
    assert next((d.seq, d.field, d.expected, d.found) for d in found) == (
        rows[decided].seq,
        "payload.role",
        "TECH_LEAD",
        "CFO",
    )
    # Re-chained, the log is self-consistent; the hash the sink answered is not.
    assert any(d.field == "hash" and d.seq == rows[decided].seq for d in found)


def test_a_missing_event_and_a_swapped_snapshot_are_caught(
    runs: list[WorkflowHistory], replayed: ReplayOutcome
) -> None:
    rows = _rows(runs)
    snap = next(i for i, r in enumerate(rows) if r.snapshot_key is not None)
    body = json.loads(rows[snap].body)
    body["snapshot"]["sha256"] = "0" * 64
    rows[snap] = replace(rows[snap], body=canonical_bytes(body))
    dropped = rows.pop()
    report = build_report(rows[0].instance_id, rows, runs, "temporal", replayed, sealed=True,
                          checkpoint=None, attestor=None)  # fmt: skip
    by_seq = {d.seq: d for d in report.divergences if d.between == "audit/history"}
    assert by_seq[rows[snap].seq].field == "snapshot"
    assert "not the hash of the snapshot" in by_seq[rows[snap].seq].message
    assert by_seq[dropped.seq].message == "the sink answered it as stored, but the log lacks it"
    assert report.first_divergence is not None and report.first_divergence.seq == rows[snap].seq


def test_today_code_sending_other_events_is_reported(
    runs: list[WorkflowHistory], replayed: ReplayOutcome
) -> None:
    """Temporal's replay compares commands, not activity inputs: an event today's code
    changes is caught by comparing what it sends with what the history recorded."""
    rows = _rows(runs)
    changed = next(i for i, e in enumerate(replayed.sent) if e.type == "POLICY_EVALUATED")
    event = replayed.sent[changed]
    replayed.sent[changed] = event.model_copy(
        update={"payload": {**event.payload, "materiality": "LOW"}}
    )
    report = build_report(rows[0].instance_id, rows, runs, "temporal", replayed, sealed=True,
                          checkpoint=None, attestor=None)  # fmt: skip
    assert report.replay.deterministic and not report.match
    first = report.first_divergence
    assert first is not None and (first.between, first.seq) == ("history/replay", event.seq)
    assert (first.field, first.expected, first.found) == (
        "payload.materiality",
        event.payload["materiality"],
        "LOW",
    )


def test_non_determinism_alone_is_a_mismatch(
    runs: list[WorkflowHistory], replayed: ReplayOutcome
) -> None:
    rows = _rows(runs)
    replayed.failures.append(
        NonDeterminism(run_id="r", event_id=33, event_type="ACTIVITY_TASK_SCHEDULED",
                       kind="NondeterminismError", message="[TMPRL1100] ...")
    )  # fmt: skip
    report = build_report(rows[0].instance_id, rows, runs, "temporal", replayed, sealed=True,
                          checkpoint=None, attestor=None)  # fmt: skip
    assert report.divergences == [] and not report.match
    assert not report.replay.deterministic and report.nondeterminism[0].event_id == 33


def test_a_field_added_with_a_default_is_an_addition_not_a_divergence(
    runs: list[WorkflowHistory], replayed: ReplayOutcome
) -> None:
    """A message that grew a defaulted field (e.g. in the attested start body) makes
    today's code send a bigger event; nothing recorded is contradicted."""
    rows = _rows(runs)
    first = replayed.sent[0]
    replayed.sent[0] = first.model_copy(update={"payload": {**first.payload, "new_field": 3}})
    report = build_report(rows[0].instance_id, rows, runs, "temporal", replayed, sealed=True,
                          checkpoint=None, attestor=None)  # fmt: skip
    assert report.match and report.divergences == []
    [added] = report.additions
    assert (added.seq, added.field, added.found) == (first.seq, "payload.new_field", 3)
    # Removing a recorded field is a divergence.
    replayed.sent[0] = first.model_copy(update={"payload": {}})
    report = build_report(rows[0].instance_id, rows, runs, "temporal", replayed, sealed=True,
                          checkpoint=None, attestor=None)  # fmt: skip
    assert not report.match and report.first_divergence is not None
    assert report.first_divergence.between == "history/replay"

"""The backtest's pure core: unproven arguments are counted, never guessed; every kind of
change is named against the recorded outcome and the pinned policy."""

from __future__ import annotations

from gantral.policy.loading import load_policy
from gantral.replay.backtest import DecisionPoint, backtest

PINNED = load_policy("""
materiality: LOW
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 100}]}
by_materiality:
  HIGH: {approvers: [{role: TECH_LEAD}], timeouts: {primary: 1h}}
""")


def _point(seq: int, amount: int | None, requires_human: bool, materiality: str) -> DecisionPoint:
    return DecisionPoint(
        instance_id="inst_1", seq=seq, at="2026-11-26T10:00:00Z", step_id="act",
        workflow_id="wf", team="payments", trigger={}, args_digest=f"sha256:{seq}",
        arguments=None if amount is None else {"amount": amount},
        requires_human=requires_human, materiality=materiality,
        approvers=["TECH_LEAD"] if requires_human else None, pinned=PINNED,
    )  # fmt: skip


def test_the_pinned_policy_changes_nothing_and_unproven_points_are_counted() -> None:
    points = [
        _point(3, 5, False, "LOW"),
        _point(7, 500, True, "HIGH"),
        _point(9, None, True, "HIGH"),
    ]
    report = backtest("p", PINNED, points, instances=1)
    assert (report.evaluated, report.unrecoverable, report.unchanged, report.changed) == (
        2,
        1,
        2,
        0,
    )


def test_each_kind_of_change_is_reported_once_per_point() -> None:
    candidate = load_policy("""
materiality: MEDIUM
requires_human_approval: true
approvers: [{role: CFO}]
timeouts: {primary: 2h}
""")
    report = backtest("p", candidate, [_point(3, 5, False, "LOW"), _point(7, 500, True, "HIGH")],
                      instances=1)  # fmt: skip
    assert report.counts == {"outcome": 1, "materiality": 2, "approvers": 1, "deadline": 1}
    by_seq = {(c.seq, c.kind): (c.recorded, c.candidate) for c in report.examples}
    assert by_seq == {
        (3, "outcome"): ("ALLOW", "PENDING"),
        (3, "materiality"): ("LOW", "MEDIUM"),
        (7, "materiality"): ("HIGH", "MEDIUM"),
        (7, "approvers"): (["TECH_LEAD"], ["CFO"]),
        (7, "deadline"): (["PT3600S"], ["PT7200S"]),
    }

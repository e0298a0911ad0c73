"""History-aware rules: counts and sums over the instance's own earlier authorizations,
kept in its state (so carried across continue-as-new and reproduced by replay)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from gantral.domain.actors import Actor, ActorKind
from gantral.errors import InvalidInput
from gantral.policy.facts import field_problem
from gantral.policy.loading import load_policy, load_template
from gantral.workflows.messages import StartInstance
from gantral.workflows.state import InstanceState

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
AGENT = Actor(id="agent-7", kind=ActorKind.AGENT, owner="olivia")
# Once two refunds were allowed, or more than 1,000 refunded in allowed calls: HIGH.
TEMPLATE = """
id: refunds
steps:
  - id: refund
    policy:
      materiality: LOW
      materiality_rules:
        - {name: many, level: HIGH, when: [{field: history.refund.ALLOW.count, op: ge, value: 2}]}
        - {name: much, level: HIGH,
           when: [{field: history.refund.ALLOW.sum.amount, op: gt, value: 1000}]}
      by_materiality:
        HIGH: {approvers: [{role: FINANCE}]}
  - id: note
    policy: {materiality: LOW}
"""


def _state(start: StartInstance | None = None) -> InstanceState:
    start = start or StartInstance(
        instance_id="inst_1", template=load_template(TEMPLATE), template_hash="sha256:t",
        owning_team_id="payments", started_by=AGENT,
    )  # fmt: skip
    s = InstanceState(start, T0)
    if start.carried is None:
        s.begin({}, T0)
    return s


_ids = itertools.count(1)


def _ask(s: InstanceState, amount: Any, step: str = "refund") -> str:
    from gantral.workflows.messages import AuthorizeStep

    req = AuthorizeStep(step_id=step, arguments={"amount": amount}, actor=AGENT)
    s.check_authorize(req)
    return str(s.authorize(req, T0, lambda: f"{next(_ids):032x}").result.outcome)


def test_counts_of_earlier_allowed_calls_raise_materiality() -> None:
    s = _state()
    assert [_ask(s, 10), _ask(s, 10, "note"), _ask(s, 10)] == ["ALLOW", "ALLOW", "ALLOW"]
    # Two refunds were allowed: the third needs finance.
    assert _ask(s, 10) == "PENDING"
    assert s.data.history == {
        "refund|ALLOW|count": 2, "refund|ALLOW|sum|amount": 20, "refund|PENDING|count": 1,
        "refund|PENDING|sum|amount": 10, "note|ALLOW|count": 1, "note|ALLOW|sum|amount": 10,
    }  # fmt: skip


def test_sums_read_numbers_only_and_survive_continue_as_new() -> None:
    s = _state()
    assert [_ask(s, 900), _ask(s, "lots")] == ["ALLOW", "ALLOW"]
    carried = s.snapshot()
    assert carried.history["refund|ALLOW|sum|amount"] == 900
    again = _state(s.start.model_copy(update={"carried": carried}))
    # 900 + 200 > 1,000, and two refunds were allowed already.
    assert _ask(again, 200) == "PENDING"


def test_without_history_rules_nothing_is_kept() -> None:
    template = "id: plain\nsteps:\n  - id: refund\n    policy: {materiality: LOW}\n"
    s = _state(StartInstance(
        instance_id="inst_2", template=load_template(template), template_hash="sha256:t",
        owning_team_id="payments", started_by=AGENT,
    ))  # fmt: skip
    assert _ask(s, 5) == "ALLOW"
    assert s.data.history == {} and "history" not in s.data.model_dump(mode="json")


@pytest.mark.parametrize(
    ("field", "ok"),
    [
        ("history.refund.ALLOW.count", True),
        ("history.refund.PENDING.sum.amount", True),
        ("history.refund.ALLOW.sum.totals.eur", True),
        ("history.refund.ALLOW", False),
        ("history.refund.DENY.count", False),
        ("history.refund.ALLOW.count.more", False),
        ("history.refund.ALLOW.sum", False),
        ("history", False),
    ],
)
def test_history_fields_a_rule_may_read(field: str, ok: bool) -> None:
    assert (field_problem(field) is None) is ok


def test_publication_refuses_a_malformed_history_field() -> None:
    bad = b"""
materiality_rules:
  - {level: HIGH, when: [{field: history.refund.ALLOW.total, op: gt, value: 1}]}
requires_human_approval: false
by_materiality: {HIGH: {approvers: [{role: X}]}}
"""
    with pytest.raises(InvalidInput) as refused:
        load_policy(bad, source="bad")
    assert refused.value.reason == "field_not_a_fact"

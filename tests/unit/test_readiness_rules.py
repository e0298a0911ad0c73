"""Capacity rules: validation with lines, periods, emptiness, the example file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gantral.errors import InvalidInput
from gantral.readiness.evaluate import period_bounds
from gantral.readiness.rules import CapacityRules, Period, load_rules, rules_hash

EXAMPLE = Path(__file__).parents[2] / "examples" / "capacity" / "capacity.yaml"


def test_example_file_loads_and_limits_something() -> None:
    rules = load_rules(EXAMPLE.read_bytes(), source=str(EXAMPLE))
    assert not rules.empty
    assert rules.team("payments").budget is not None
    # An unlisted team gets the default team's rules.
    assert rules.team("nobody-listed") == rules.default_team


def test_misspelt_limit_is_refused_with_its_line() -> None:
    text = "kind: gantral/capacity\nteams:\n  payments:\n    concurency: 2\n"
    with pytest.raises(InvalidInput) as err:
        load_rules(text, source="cap.yaml")
    assert err.value.details["line"] == 4
    assert err.value.details["field"] == "teams.payments.concurency"


def test_negative_budget_and_wrong_kind_are_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        load_rules("teams: {a: {budget: {tokens: -1}}}")
    assert err.value.details["field"] == "teams.a.budget.tokens"
    with pytest.raises(InvalidInput):
        load_rules("kind: gantral/policy")


def test_bad_names_and_duplicate_keys_are_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        load_rules("agents: {'bad name': {concurrency: 1}}")
    assert err.value.details["field"] == "agents.bad name"
    with pytest.raises(InvalidInput):
        load_rules("teams: {a: {concurrency: 1}, a: {concurrency: 2}}")


def test_empty_rules_limit_nothing_and_hash_is_stable() -> None:
    assert load_rules("").empty
    assert CapacityRules().empty
    one = load_rules("teams: {a: {concurrency: 1}}")
    assert not one.empty
    assert rules_hash(one) == rules_hash(load_rules("{teams: {a: {concurrency: 1}}}"))
    assert rules_hash(one) != rules_hash(load_rules("teams: {a: {concurrency: 2}}"))


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        (Period.HOUR, datetime(2026, 2, 28, 13, tzinfo=UTC), datetime(2026, 2, 28, 14, tzinfo=UTC)),
        (Period.DAY, datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        (Period.WEEK, datetime(2026, 2, 23, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
        (Period.MONTH, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_period_bounds_are_calendar_aligned(period: Period, start: datetime, end: datetime) -> None:
    assert period_bounds(period, datetime(2026, 2, 28, 13, 45, 10, tzinfo=UTC)) == (start, end)

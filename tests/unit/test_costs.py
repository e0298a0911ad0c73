"""The running cost total (pure): bounds, currencies, and saturation of replayed history."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gantral.api.schemas import EventRequest
from gantral.domain.costs import add_cost, cost_problem
from gantral.domain.limits import MAX_COST_MONEY, MAX_COST_SECONDS, MAX_COST_TOKENS
from gantral.domain.records import Cost


def test_a_report_within_the_bounds_adds_up() -> None:
    total = add_cost(Cost(), Cost(tokens=10, money=1.5, currency="EUR", wall_time_seconds=2))
    assert cost_problem(total, Cost(tokens=1, money=1, currency="EUR")) is None
    total = add_cost(total, Cost(tokens=1, money=1, currency="EUR"))
    assert total == Cost(tokens=11, money=2.5, currency="EUR", wall_time_seconds=2)


def test_a_total_keeps_the_currency_of_its_first_money() -> None:
    total = add_cost(Cost(), Cost(tokens=5, currency="EUR"))  # no money: no currency yet
    assert total.currency == "USD" and total.money == 0
    total = add_cost(total, Cost(money=3, currency="GBP"))
    assert total.currency == "GBP"
    assert add_cost(total, Cost(tokens=1)).currency == "GBP"  # tokens alone move nothing
    problem = cost_problem(total, Cost(money=1, currency="USD"))
    assert problem is not None and problem[0] == "currency_mismatch"
    assert cost_problem(total, Cost(tokens=1, currency="USD")) is None


@pytest.mark.parametrize(
    ("total", "report"),
    [
        (Cost(money=MAX_COST_MONEY), Cost(money=0.01)),
        (Cost(tokens=MAX_COST_TOKENS), Cost(tokens=1)),
        (Cost(wall_time_seconds=MAX_COST_SECONDS), Cost(wall_time_seconds=1)),
    ],
)
def test_a_total_past_its_bound_is_refused(total: Cost, report: Cost) -> None:
    problem = cost_problem(total, report)
    assert problem is not None and problem[0] == "cost_too_large"


@pytest.mark.parametrize("money", ["NaN", "Infinity", "1e309", "12", float("inf"), -1, True])
def test_cost_numbers_are_strict_and_finite(money: object) -> None:
    with pytest.raises(ValidationError):
        Cost.model_validate({"money": money})


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        ({"money": 1e13}, "cost_too_large"),
        ({"money": 1e308}, "cost_too_large"),
        ({"wall_time_seconds": 1e10}, "cost_too_large"),
        ({"currency": "usd"}, "invalid_currency"),
        ({"currency": "Usd"}, "invalid_currency"),
        ({"currency": "US"}, "invalid_currency"),
        ({"currency": "USDD"}, "invalid_currency"),
        ({"currency": ""}, "invalid_currency"),
        ({"currency": "€UR"}, "invalid_currency"),
    ],
)
def test_a_report_past_its_own_bounds_is_refused(report: dict[str, object], reason: str) -> None:
    """Decoded (history recorded before the bounds still replays), refused when admitted:
    by the API's request body and by the workflow's validator."""
    problem = cost_problem(Cost(), Cost.model_validate(report))
    assert problem is not None and problem[0] == reason
    with pytest.raises(ValidationError, match=reason):
        EventRequest.model_validate({"kind": "COST", "cost": report})


def test_unvalidated_reports_are_refused_and_old_overflows_saturate() -> None:
    for bad in (float("nan"), float("inf"), -1.0):
        report = Cost.model_construct(tokens=0, money=bad, currency="USD", wall_time_seconds=0.0)
        assert cost_problem(Cost(), report) is not None
    # A history from before the bounds (two 1e308 accepted) replays to a readable total.
    huge = Cost.model_validate_json('{"money": 1e308}')
    total = add_cost(add_cost(Cost(), huge), huge)
    assert total.money == MAX_COST_MONEY
    assert Cost.model_validate_json(total.model_dump_json()) == total

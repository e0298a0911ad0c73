"""An instance's running cost total: what a report adds, and which reports are refused.

    cost_problem(total, report) -> (reason, message) | None   # the Update validator
    add_cost(total, report)     -> Cost                       # the Update handler

Refused (422), before anything is recorded: a currency that is not an ISO 4217 code as
written there, a report whose new total would pass a bound (`gantral.domain.limits`:
tokens 2**53 - 1, money 1e12, wall time 1e9 s), or money in another currency than the
total's. The API checks a report against an empty total (its own bounds) before sending
it; the workflow's validator checks it against the real total.

A total's currency is that of its first money; a report with no money (tokens or time
only) leaves it as it is. Money is never converted: a total never moves to another
currency.
"""

from __future__ import annotations

import math
import re

from gantral.domain.limits import (
    CURRENCY_PATTERN,
    MAX_COST_MONEY,
    MAX_COST_SECONDS,
    MAX_COST_TOKENS,
)
from gantral.domain.records import Cost
from gantral.errors import Reason

__all__ = ["add_cost", "cost_problem"]


def _number_problem(name: str, value: object) -> tuple[Reason, str] | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Reason.INVALID_COST, f"cost.{name} must be a number"
    if not math.isfinite(value):
        return Reason.INVALID_COST, f"cost.{name} must be a finite number"
    if value < 0:
        return Reason.NEGATIVE_COST, f"cost.{name} cannot be negative"
    return None


def cost_problem(total: Cost, report: Cost) -> tuple[Reason, str] | None:
    """Why `report` cannot be added to `total`, if it cannot.

    The report was validated as a `Cost` when it was decoded; it is checked again here,
    where the total is known, so a payload built without validation changes nothing."""
    for name in ("tokens", "money", "wall_time_seconds"):
        problem = _number_problem(name, getattr(report, name))
        if problem is not None:
            return problem
    if not isinstance(report.currency, str) or not re.match(CURRENCY_PATTERN, report.currency):
        return (
            Reason.INVALID_CURRENCY,
            f"cost.currency {report.currency!r} is not an ISO 4217 code as written there "
            "(three capital letters, e.g. USD)",
        )
    if report.money > 0 and total.money > 0 and report.currency != total.currency:
        return (
            Reason.CURRENCY_MISMATCH,
            f"cost.currency {report.currency!r}: this instance's costs are in "
            f"{total.currency}; money is never added across currencies",
        )
    bounds = (
        ("tokens", total.tokens + report.tokens, MAX_COST_TOKENS),
        ("money", total.money + report.money, MAX_COST_MONEY),
        ("wall_time_seconds", total.wall_time_seconds + report.wall_time_seconds, MAX_COST_SECONDS),
    )
    for name, new, bound in bounds:
        if not math.isfinite(new) or new > bound:
            return (
                Reason.COST_TOO_LARGE,
                f"cost.{name}: the instance's total would pass its bound ({bound:g})",
            )
    return None


def add_cost(total: Cost, report: Cost) -> Cost:
    """The new total. A report the validator admitted stays within the bounds; one
    admitted before the bounds existed (replayed history) saturates at them, so no total
    is ever too large to read."""
    currency = report.currency if report.money > 0 else total.currency
    return Cost(
        tokens=min(total.tokens + report.tokens, MAX_COST_TOKENS),
        money=_saturated(total.money + report.money, MAX_COST_MONEY),
        currency=currency,
        wall_time_seconds=_saturated(
            total.wall_time_seconds + report.wall_time_seconds, MAX_COST_SECONDS
        ),
    )


def _saturated(value: float, bound: float) -> float:
    return value if math.isfinite(value) and value <= bound else bound

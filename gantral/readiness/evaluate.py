"""The verdict, as a pure function of the rules, the ask and the counters read for it.

No I/O and no clock of its own: the store reads `Usage` and passes `now`, so the same
counters always give the same verdict (which is what makes rebuilt counters checkable).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gantral.readiness import verdict as v
from gantral.readiness.rules import Budget, CapacityRules, Limits, Period
from gantral.readiness.verdict import Ask, Check, Verdict

__all__ = [
    "RATE_WINDOW",
    "Usage",
    "evaluate",
    "limits_of",
    "period_bounds",
    "scopes_of",
    "shared_scopes",
]

RATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Usage:
    """The counters one check needs, read in one transaction."""

    # Scope -> slots held (reserved by an ALLOW, or running).
    running: Mapping[str, int] = field(default_factory=dict)
    # Scope -> (admissions within the last minute, the oldest one's time).
    recent: Mapping[str, tuple[int, datetime | None]] = field(default_factory=dict)
    # The team's spend in its budget's current period.
    spent_tokens: int = 0
    spent_money: float = 0.0
    # Other teams waiting for a shared scope: team -> (virtual time, first waiting since).
    waiting: Mapping[str, tuple[float, datetime]] = field(default_factory=dict)
    # This team's place in the fair order: (virtual time, first waiting since).
    own: tuple[float, datetime] | None = None


def scopes_of(ask: Ask) -> list[str]:
    return ["plane", f"team:{ask.team}", f"workflow:{ask.workflow_id}", f"agent:{ask.agent_id}"]


def shared_scopes(ask: Ask) -> list[str]:
    """Scopes several teams compete for: where fairness between teams applies."""
    return ["plane", f"workflow:{ask.workflow_id}"]


def limits_of(rules: CapacityRules, ask: Ask) -> list[tuple[str, Limits]]:
    """The limits that apply to the ask, by scope."""
    out: list[tuple[str, Limits]] = [(f"team:{ask.team}", rules.team(ask.team))]
    if (agent := rules.agents.get(ask.agent_id)) is not None:
        out.append((f"agent:{ask.agent_id}", agent))
    if (workflow := rules.workflows.get(ask.workflow_id)) is not None:
        out.append((f"workflow:{ask.workflow_id}", workflow))
    out.append(("plane", rules.plane))
    return out


def period_bounds(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """The calendar period (UTC) that contains `now`: [start, end)."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.HOUR:
        start = now.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    if period is Period.DAY:
        return day, day + timedelta(days=1)
    if period is Period.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + timedelta(days=days)


def _budget_checks(
    rules: CapacityRules, budget: Budget, team: str, usage: Usage, now: datetime
) -> list[Check]:
    _, end = period_bounds(budget.period, now)
    wait = min((end - now).total_seconds(), rules.timing.budget_recheck_seconds)
    checks = []
    for kind, limit, used in (
        ("tokens", budget.tokens, float(usage.spent_tokens)),
        ("money", budget.money, usage.spent_money),
    ):
        if limit is not None:
            ok = used < limit
            checks.append(Check(f"team:{team}", kind, float(limit), used, ok, 0.0 if ok else wait))
    return checks


def _limit_checks(rules: CapacityRules, ask: Ask, usage: Usage, now: datetime) -> list[Check]:
    checks = []
    for scope, limits in limits_of(rules, ask):
        if limits.concurrency is not None:
            used = usage.running.get(scope, 0)
            ok = used < limits.concurrency
            wait = 0.0 if ok else rules.timing.retry_after_seconds
            checks.append(Check(scope, "concurrency", limits.concurrency, used, ok, wait))
        if limits.steps_per_minute is not None:
            count, oldest = usage.recent.get(scope, (0, None))
            ok = count < limits.steps_per_minute
            wait = 0.0
            if not ok:
                # The window frees a place when its oldest admission leaves it.
                frees = (oldest + RATE_WINDOW - now).total_seconds() if oldest else 1.0
                wait = max(frees, 0.05)
            rate = limits.steps_per_minute
            checks.append(Check(scope, "steps_per_minute", rate, count, ok, wait))
    return checks


_REASON = {
    "tokens": v.BUDGET,
    "money": v.BUDGET,
    "concurrency": v.CONCURRENCY,
    "steps_per_minute": v.RATE_LIMIT,
    "fairness": v.FAIRNESS,
}


def fair_turn(usage: Usage) -> str | None:
    """The team ahead of this one in the fair order, or None when it is this team's turn.

    Start-time fair queueing: each admission moves a team's virtual time on by
    1/weight; the waiting team with the least virtual time (then the longest wait) goes
    next, so a team flooding the plane with agents gets its share, not everything.
    """
    if usage.own is None or not usage.waiting:
        return None
    ahead = min(usage.waiting.items(), key=lambda item: (item[1], item[0]))
    return ahead[0] if ahead[1] < usage.own else None


def evaluate(rules: CapacityRules, ask: Ask, usage: Usage, now: datetime) -> Verdict:
    """Ready when every limit has room, the budget is not spent and it is the team's turn."""
    checks: list[Check] = []
    budget = rules.team(ask.team).budget
    if budget is not None:
        checks += _budget_checks(rules, budget, ask.team, usage, now)
    checks += _limit_checks(rules, ask, usage, now)
    if all(c.ok for c in checks) and (ahead := fair_turn(usage)) is not None:
        wait = rules.timing.retry_after_seconds / 2
        checks.append(Check(f"team:{ahead}", "fairness", 0, len(usage.waiting), False, wait))
    blocked = [c for c in checks if not c.ok]
    if not blocked:
        return Verdict(True, v.READY, checks=tuple(checks), at=now)
    first = blocked[0]
    reason = _REASON[first.kind]
    return Verdict(
        False,
        reason,
        # Every blocking rule must have room again before the step can run.
        retry_after=max(c.retry_after for c in blocked),
        scope=first.scope,
        message=_message(first, reason),
        checks=tuple(checks),
        at=now,
    )


def _message(check: Check, reason: str) -> str:
    if reason == v.FAIRNESS:
        return f"other teams waited longer for shared capacity ({check.scope} goes first)"
    if reason == v.BUDGET:
        return f"{check.scope} spent its {check.kind} budget ({check.used:g} of {check.limit:g})"
    what = "steps running" if reason == v.CONCURRENCY else "steps in the last minute"
    return f"{check.scope} is at its limit: {check.used:g} {what} of {check.limit:g}"

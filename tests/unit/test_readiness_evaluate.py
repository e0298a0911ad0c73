"""The verdict as a pure function of rules, counters and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gantral.readiness.evaluate import Usage, evaluate, fair_turn
from gantral.readiness.rules import load_rules
from gantral.readiness.verdict import Ask

NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)
ASK = Ask("inst_1", "deploy", "payments", "deploy-service", "bot-1")

RULES = load_rules(
    """
    plane: {concurrency: 10}
    teams:
      payments:
        concurrency: 2
        steps_per_minute: 5
        budget: {period: hour, tokens: 1000, money: 5}
    workflows: {deploy-service: {concurrency: 3}}
    agents: {bot-1: {concurrency: 1}}
    timing: {retry_after_seconds: 3, budget_recheck_seconds: 60}
    """
)


def test_room_everywhere_is_ready() -> None:
    verdict = evaluate(RULES, ASK, Usage(), NOW)
    assert verdict.ready and verdict.reason == "ready" and verdict.retry_after == 0
    assert {c.kind for c in verdict.checks} == {"tokens", "money", "concurrency",
                                                "steps_per_minute"}  # fmt: skip


def test_team_at_its_concurrency_limit_waits() -> None:
    verdict = evaluate(RULES, ASK, Usage(running={"team:payments": 2}), NOW)
    assert not verdict.ready
    assert (verdict.reason, verdict.scope, verdict.retry_after) == (
        "concurrency", "team:payments", 3,
    )  # fmt: skip
    assert "2 steps running of 2" in verdict.message


def test_agent_and_workflow_and_plane_limits_apply() -> None:
    for scope, used in (("agent:bot-1", 1), ("workflow:deploy-service", 3), ("plane", 10)):
        verdict = evaluate(RULES, ASK, Usage(running={scope: used}), NOW)
        assert (verdict.ready, verdict.scope) == (False, scope)


def test_rate_limit_says_when_the_window_frees() -> None:
    oldest = NOW - timedelta(seconds=45)
    verdict = evaluate(RULES, ASK, Usage(recent={"team:payments": (5, oldest)}), NOW)
    assert verdict.reason == "rate_limit"
    assert abs(verdict.retry_after - 15) < 1e-6


def test_spent_budget_blocks_until_recheck_or_period_end() -> None:
    verdict = evaluate(RULES, ASK, Usage(spent_tokens=1000), NOW)
    assert (verdict.ready, verdict.reason) == (False, "budget")
    assert verdict.retry_after == 60  # the hour ends later than the recheck
    late = NOW.replace(minute=59, second=50)
    assert evaluate(RULES, ASK, Usage(spent_money=5.0), late).retry_after == 10
    assert evaluate(RULES, ASK, Usage(spent_tokens=999, spent_money=4.99), NOW).ready


def test_several_blocks_wait_for_the_longest() -> None:
    usage = Usage(running={"team:payments": 2}, spent_tokens=5000)
    verdict = evaluate(RULES, ASK, usage, NOW)
    assert verdict.reason == "budget"
    assert verdict.retry_after == 60


def test_fair_turn_serves_least_virtual_time_then_longest_wait() -> None:
    early, late = NOW - timedelta(seconds=5), NOW
    assert fair_turn(Usage()) is None
    assert fair_turn(Usage(waiting={"risk": (1.0, late)}, own=(2.0, early))) == "risk"
    assert fair_turn(Usage(waiting={"risk": (3.0, early)}, own=(2.0, late))) is None
    # Same virtual time: who waited longest.
    assert fair_turn(Usage(waiting={"risk": (2.0, early)}, own=(2.0, late))) == "risk"
    assert fair_turn(Usage(waiting={"risk": (2.0, late)}, own=(2.0, early))) is None


def test_capacity_free_but_another_team_first_is_fairness() -> None:
    usage = Usage(waiting={"risk": (0.0, NOW)}, own=(1.0, NOW))
    verdict = evaluate(RULES, ASK, usage, NOW)
    assert (verdict.ready, verdict.reason, verdict.scope) == (False, "fairness", "team:risk")
    assert verdict.retry_after == 1.5


def test_no_rules_is_ready_with_no_checks() -> None:
    verdict = evaluate(load_rules(""), ASK, Usage(running={"plane": 10**6}), NOW)
    assert verdict.ready and verdict.checks == ()

"""The readiness gate on the real PostgreSQL: limits hold under concurrency, budgets pause
the next step only, teams share fairly, and counters rebuilt after loss agree."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from psycopg_pool import AsyncConnectionPool

from gantral.domain.records import Cost
from gantral.readiness.gate import ReadinessGate
from gantral.readiness.rebuild import usage_from_events
from gantral.readiness.store import CounterStore
from gantral.readiness.watcher import RulesWatcher
from tests.helpers.readiness_fixtures import Clock, GateRig, Observed, ask
from tests.helpers.stack import Stack


@pytest_asyncio.fixture(loop_scope="session")
async def rig(stack: Stack) -> AsyncIterator[GateRig]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        stack.postgres_uri, open=False, min_size=1, max_size=8
    )
    await pool.open(wait=True, timeout=30)
    store = CounterStore(pool, schema=f"readiness_{uuid.uuid4().hex[:10]}")
    await store.migrate()
    clock, observed = Clock(), Observed()
    gate = ReadinessGate(store, observer=observed, clock=clock)
    try:
        yield GateRig(gate, store, clock, observed, pool)
    finally:
        await pool.close()


async def test_concurrency_limit_of_two_with_five_agents(rig: GateRig) -> None:
    await rig.rules("teams: {payments: {concurrency: 2}}\ntiming: {retry_after_seconds: 0.02}")
    rig.clock.real = True  # real time: five agents really race
    running, peak, done, waits = 0, 0, 0, Counter[str]()

    async def agent(n: int) -> None:
        nonlocal running, peak, done
        for k in range(3):
            a = ask(f"inst_c{n}", f"step-{k}", agent=f"bot-{n}")
            while not (verdict := await rig.gate.check(a)).ready:
                waits[verdict.reason] += 1
                await asyncio.sleep(verdict.retry_after)
            await rig.gate.step_started(a)
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.03)  # the step's work
            running -= 1
            await rig.gate.step_ended(a.instance_id, a.step_id)
            done += 1

    await asyncio.gather(*(agent(n) for n in range(5)))
    assert done == 15
    assert peak == 2, "never more than two at once, and the limit is used"
    assert set(waits) == {"concurrency"} and waits["concurrency"] > 0
    assert set(rig.observed.blocked_reasons) == {"concurrency"}


async def test_budget_spent_mid_step_pauses_the_next_step_only(
    rig: GateRig, tmp_path: Path
) -> None:
    rules = tmp_path / "capacity.yaml"
    rules.write_text("teams: {payments: {budget: {period: day, tokens: 1000}}}\n")
    watcher = RulesWatcher(rig.gate, rules, interval=0.1)
    assert await watcher.scan_once()
    first_version = rig.gate.active.version
    build = ask("inst_b", "build")
    assert (await rig.gate.check(build)).ready
    await rig.gate.step_started(build)
    # The step in flight reports cost past the budget, and again (a retried event).
    await rig.gate.cost_reported("inst_b", "payments", Cost(tokens=1200))
    await rig.gate.cost_reported("inst_b", "payments", Cost(tokens=1200))
    assert rig.observed.budgets[("payments", "tokens")] == (1200, 1000)

    deploy = ask("inst_b", "deploy")
    verdict = await rig.gate.check(deploy)
    assert (verdict.ready, verdict.reason, verdict.scope) == (False, "budget", "team:payments")
    assert verdict.retry_after == 60
    assert verdict.rules_version == first_version
    # The step in flight is untouched: it still holds its slot and ends normally.
    assert (await rig.gate.check(build)).ready
    await rig.gate.step_ended("inst_b", "build")

    # An operator raises the budget: the next check applies the new version.
    rules.write_text("teams: {payments: {budget: {period: day, tokens: 5000}}}\n")
    assert await watcher.scan_once()
    verdict = await rig.gate.check(deploy)
    assert verdict.ready and verdict.rules_version == first_version + 1  # type: ignore[operator]
    # A broken edit keeps the last valid rules in force, and says why.
    rules.write_text("teams: {payments: {budget: {tokens: lots}}}\n")
    assert not await watcher.scan_once()
    assert watcher.error is not None and "teams.payments.budget.tokens" in watcher.error.message
    assert rig.gate.active.version == first_version + 1  # type: ignore[operator]
    # The next period starts with nothing spent.
    rig.clock.advance(24 * 3600)
    assert (await rig.gate.check(ask("inst_b", "later"))).ready


async def test_two_teams_share_the_plane_by_weight(rig: GateRig) -> None:
    await rig.rules(
        "plane: {concurrency: 1}\n"
        "teams: {flood: {weight: 2}, small: {weight: 1}}\n"
        "timing: {waiter_seconds: 30}\n"
    )
    agents = [("flood", f"f{i}") for i in range(8)] + [("small", f"s{i}") for i in range(2)]
    step = Counter[str]()
    served: list[str] = []
    for _ in range(18):
        admitted = None
        # The flooding team's eight agents always ask first.
        for team, name in agents:
            rig.clock.advance(0.01)
            a = ask(f"inst_{name}", f"s{step[name]}", team=team, agent=name)
            verdict = await rig.gate.check(a)
            if verdict.ready:
                assert admitted is None, "the plane runs one step at a time"
                admitted = (team, name, a)
            else:
                assert verdict.reason in ("concurrency", "fairness")
        assert admitted is not None
        team, name, a = admitted
        served.append(team)
        step[name] += 1
        await rig.gate.step_started(a)
        rig.clock.advance(1)
        await rig.gate.step_ended(a.instance_id, a.step_id)
    # Weight 2 to 1: two flood steps for each small step, however many agents flood.
    assert Counter(served) == {"flood": 12, "small": 6}
    for i in range(0, 18, 3):
        assert sorted(served[i : i + 3]) == ["flood", "flood", "small"]


async def test_rate_limit_and_reservations(rig: GateRig) -> None:
    await rig.rules(
        "agents: {bot-1: {steps_per_minute: 3, concurrency: 1}}\n"
        "timing: {reservation_seconds: 30}\n"
    )
    a = ask("inst_r", "s0")
    assert (await rig.gate.check(a)).ready
    # Asked again before starting: the same reservation, not a second slot.
    assert (await rig.gate.check(a)).ready
    blocked = await rig.gate.check(ask("inst_r2", "s0"))
    assert (blocked.ready, blocked.reason, blocked.scope) == (False, "concurrency", "agent:bot-1")
    # An ALLOW never started gives its slot back once the reservation lapses...
    rig.clock.advance(31)
    assert (await rig.gate.check(ask("inst_r2", "s0"))).ready
    # ... or at once, when the authorize did not end in ALLOW.
    await rig.gate.release("inst_r2", "s0")
    assert (await rig.gate.check(ask("inst_r3", "s0"))).ready
    await rig.gate.release("inst_r3", "s0")
    rig.clock.advance(10)
    verdict = await rig.gate.check(ask("inst_r4", "s0"))
    assert (verdict.reason, verdict.scope) == ("rate_limit", "agent:bot-1")
    # The oldest of the three admissions (41 s ago) leaves the window in 19 s.
    assert abs(verdict.retry_after - 19) < 0.01
    rig.clock.advance(19.01)
    assert (await rig.gate.check(ask("inst_r4", "s0"))).ready


async def test_finished_instance_frees_its_slots(rig: GateRig) -> None:
    await rig.rules("teams: {payments: {concurrency: 1}}")
    a = ask("inst_f", "s0")
    assert (await rig.gate.check(a)).ready
    await rig.gate.step_started(a)
    assert not (await rig.gate.check(ask("inst_g", "s0"))).ready
    await rig.gate.instance_finished("inst_f")
    assert (await rig.gate.check(ask("inst_g", "s0"))).ready


def _events(team: str, steps: list[tuple[str, str]], costs: list[int], ended: bool = False
            ) -> list[dict[str, object]]:  # fmt: skip
    at = "2026-11-26T11:30:00Z"
    out: list[dict[str, object]] = [
        {"type": "INSTANCE_STARTED", "at": at, "actor": {"id": "bot"},
         "payload": {"owning_team_id": team, "workflow_id": "deploy-service",
                     "workflow_version": 1, "template_hash": "sha256:t", "trigger_context": {}}},
    ]  # fmt: skip
    for step, kind in steps:
        out.append({"type": "AGENT_EVENT", "at": at, "actor": {"id": "bot-1"},
                    "payload": {"kind": kind, "step_id": step}})  # fmt: skip
    for tokens in costs:
        out.append({"type": "COST_REPORTED", "at": at, "actor": {"id": "bot-1"},
                    "payload": {"tokens": tokens, "money": 0.5, "currency": "USD",
                                "wall_time_seconds": 1.0}})  # fmt: skip
    if ended:
        out.append({"type": "STATE_TRANSITION", "at": at, "actor": {"id": "bot"},
                    "payload": {"seq": 4, "from_state": "RUNNING", "to_state": "COMPLETED",
                                "cause": "done", "at": at}})  # fmt: skip
    return out


async def test_counters_lost_and_rebuilt_give_the_same_verdicts(rig: GateRig) -> None:
    await rig.rules(
        "teams:\n"
        "  payments: {concurrency: 2, budget: {period: day, tokens: 900, money: 2}}\n"
        "  risk: {concurrency: 1, budget: {period: day, tokens: 500}}\n"
        "workflows: {deploy-service: {concurrency: 3}}\n"
    )
    # What the instances did, as their audit logs say it.
    logs = {
        "inst_p1": _events("payments", [("a", "STEP_STARTED")], [300, 400]),
        "inst_p2": _events("payments", [("a", "STEP_STARTED"), ("a", "STEP_COMPLETED")], [200]),
        "inst_k1": _events("risk", [("a", "STEP_STARTED")], [600]),
        "inst_k2": _events("risk", [("b", "STEP_STARTED")], [10], ended=True),
    }
    rig.clock.now = rig.clock.now.replace(hour=11, minute=31)
    for iid, events in logs.items():
        usage = usage_from_events(iid, events)
        assert usage is not None
        for run in usage.running:
            await rig.gate.step_started(ask(iid, run.step_id, team=usage.team))
        tokens, money = 0, 0.0
        for item in usage.spend:
            tokens, money = tokens + item.tokens, money + item.money
            await rig.gate.cost_reported(iid, usage.team, Cost(tokens=tokens, money=money))
    asks = [
        ask("inst_p3", "x"),
        ask("inst_p1", "a"),
        ask("inst_k3", "x", team="risk"),
        ask("inst_n", "x", team="nobody"),
    ]
    before = [(await rig.gate.explain(a)).to_dict() for a in asks]
    assert [v["reason"] for v in before] == ["budget", "ready", "budget", "ready"]

    await rig.store.clear()  # lost
    assert [(await rig.gate.explain(a)).ready for a in asks] == [True] * 4

    usages = [u for iid, ev in logs.items() if (u := usage_from_events(iid, ev)) is not None]
    assert await rig.store.rebuild(usages, rig.clock()) == 4
    after = [(await rig.gate.explain(a)).to_dict() for a in asks]
    assert after == before


async def test_counters_unavailable_fail_closed(rig: GateRig) -> None:
    await rig.rules("teams: {payments: {concurrency: 5}}")
    await rig.pool.close()
    verdict = await rig.gate.check(ask("inst_u", "s0"))
    assert (verdict.ready, verdict.reason) == (False, "counters_unavailable")
    assert verdict.retry_after > 0
    # Reports after the fact never raise: the counters are rebuilt later.
    await rig.gate.step_ended("inst_u", "s0")


async def test_a_long_rate_limit_wait_keeps_the_place_in_the_fair_queue(rig: GateRig) -> None:
    await rig.rules("plane: {steps_per_minute: 1}\ntiming: {waiter_seconds: 5}")
    assert (await rig.gate.check(ask("inst_a", "s0", team="a", agent="a1"))).ready
    rig.clock.advance(1)
    told = await rig.gate.check(ask("inst_b", "s0", team="b", agent="b1"))
    assert (told.reason, told.scope) == ("rate_limit", "plane") and told.retry_after == 59
    rig.clock.advance(29)
    assert not (await rig.gate.check(ask("inst_a", "s1", team="a", agent="a1"))).ready
    # The window frees; team a asks first, but b has waited longer (told to come back
    # in 59 s, far beyond waiter_seconds) and keeps its turn.
    rig.clock.advance(31)
    first = await rig.gate.check(ask("inst_a", "s1", team="a", agent="a1"))
    assert (first.ready, first.reason, first.scope) == (False, "fairness", "team:b")
    assert (await rig.gate.check(ask("inst_b", "s0", team="b", agent="b1"))).ready

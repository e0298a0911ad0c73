"""The readiness gate: consulted by the core client before it relays an authorize call.

    gate.check(Ask(...))            -> Verdict   (reserves a slot when ready)
    gate.release(instance, step)                 (the authorize did not end in ALLOW)
    gate.step_started(Ask(...))                  (STEP_STARTED accepted)
    gate.step_ended(instance, step)              (STEP_COMPLETED / STEP_FAILED accepted)
    gate.instance_finished(instance)             (completed, failed, cancelled)
    gate.cost_reported(instance, team, total)    (an accepted event carried cost)

Nothing here reaches Temporal or the audit log: readiness is derived (reference §3.4).
Counter failures never fail an authorize open: the check answers NOT_READY
(`counters_unavailable`) and the agent asks again; reports after the fact are best
effort, since `rebuild` recomputes the counters from the instances.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

import psycopg
from psycopg_pool import PoolTimeout

from gantral.domain.records import Cost
from gantral.errors import GantralError, Reason
from gantral.readiness.rules import CapacityRules
from gantral.readiness.store import CounterStore
from gantral.readiness.verdict import UNAVAILABLE, Ask, Verdict

__all__ = ["ActiveRules", "ReadinessGate", "ReadinessObserver", "RulesReload"]

log = logging.getLogger(__name__)
_FAILURES = (psycopg.Error, PoolTimeout, OSError)


class ReadinessObserver(Protocol):
    """Where verdicts are counted (the API's Prometheus metrics)."""

    def blocked(self, verdict: Verdict) -> None: ...

    def budget_used(self, team: str, unit: str, used: float, limit: float | None) -> None: ...


class RulesReload(Protocol):
    """The hot reload of the rules file (`watcher.RulesWatcher`, which knows the gate; the
    gate only keeps it so its latest problem can be read and a scan forced)."""

    error: GantralError | None

    async def scan_once(self) -> bool: ...


@dataclass(frozen=True)
class ActiveRules:
    rules: CapacityRules
    version: int | None = None  # None: no rules file (nothing is limited)
    source: str | None = None


class ReadinessGate:
    def __init__(
        self,
        store: CounterStore | None,
        rules: ActiveRules | None = None,
        *,
        observer: ReadinessObserver | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self.active = rules or ActiveRules(CapacityRules())
        self.observer = observer
        self._clock = clock or (lambda: datetime.now(UTC))
        # The hot reload of the rules file, when there is one (its latest problem).
        self.watcher: RulesReload | None = None

    def use(self, rules: ActiveRules) -> None:
        """Apply a new rules version to the next check (hot reload)."""
        self.active = rules

    @property
    def store(self) -> CounterStore | None:
        return self._store

    def _enabled(self) -> CounterStore | None:
        return None if self.active.rules.empty else self._store

    async def check(self, ask: Ask) -> Verdict:
        """Ready (a slot is now reserved for the step) or why not and when to ask again."""
        verdict = await self._judge(ask, reserve=True)
        if not verdict.ready and self.observer is not None:
            self.observer.blocked(verdict)
        return verdict

    async def explain(self, ask: Ask) -> Verdict:
        """The verdict a check would give now, reserving nothing and counting nothing."""
        verdict = await self._judge(ask, reserve=False)
        await self._observe_budget(ask.team)
        return verdict

    async def _judge(self, ask: Ask, *, reserve: bool) -> Verdict:
        now = self._clock()
        active = self.active
        store = self._enabled()
        if store is None:
            return Verdict(True, Reason.READY, message="no capacity rules", at=now)
        try:
            if reserve:
                verdict = await store.admit(active.rules, ask, now)
            else:
                verdict = await store.peek(active.rules, ask, now)
        except _FAILURES as exc:
            # Fail closed: without counters no limit can be honoured.
            log.warning("readiness counters unavailable: %s", type(exc).__name__)
            return Verdict(
                False,
                UNAVAILABLE,
                retry_after=active.rules.timing.retry_after_seconds,
                message="capacity counters are unavailable; ask again shortly",
                rules_version=active.version,
                at=now,
            )
        return replace(verdict, rules_version=active.version)

    async def release(self, instance_id: str, step_id: str) -> None:
        await self._report(lambda s: s.release(instance_id, step_id))

    async def step_started(self, ask: Ask) -> None:
        now = self._clock()
        await self._report(lambda s: s.started(ask, now))

    async def step_ended(self, instance_id: str, step_id: str) -> None:
        await self._report(lambda s: s.ended(instance_id, step_id))

    async def instance_finished(self, instance_id: str) -> None:
        await self._report(lambda s: s.finished(instance_id))

    def budget_currency(self, team: str) -> str | None:
        """The currency of the team's budget (None: the team has no budget)."""
        budget = self.active.rules.team(team).budget
        return budget.currency if budget is not None else None

    async def cost_reported(self, instance_id: str, team: str, total: Cost) -> None:
        """`total` is the instance's running total (`AgentEventResult.cost`)."""
        now = self._clock()
        await self._report(
            lambda s: s.cost(instance_id, team, total.tokens, total.money, total.currency, now)
        )
        await self._observe_budget(team)

    async def _observe_budget(self, team: str) -> None:
        budget = self.active.rules.team(team).budget
        if self.observer is None or self._store is None or budget is None:
            return
        try:
            spent = await self._store.team_spend(self.active.rules, team, self._clock())
        except _FAILURES:
            return
        if spent is not None:
            self.observer.budget_used(team, "tokens", spent[0], budget.tokens)
            self.observer.budget_used(team, budget.currency, spent[1], budget.money)

    async def _report(self, call: Callable[[CounterStore], Awaitable[None]]) -> None:
        # Counted even with no rules: rules switched on later must see running steps.
        if self._store is None:
            return
        try:
            await call(self._store)
        except _FAILURES as exc:
            log.warning("readiness counter not updated (%s); rebuild recomputes it", exc)

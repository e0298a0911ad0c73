"""Helpers for readiness tests: a clock the test moves, the observer's record, a rig."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool

from gantral.readiness.gate import ActiveRules, ReadinessGate
from gantral.readiness.rules import load_rules
from gantral.readiness.store import CounterStore
from gantral.readiness.verdict import Ask, Verdict


@dataclass
class Clock:
    """A clock the test moves, so periods, windows and reservations are exact."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    real: bool = False

    def __call__(self) -> datetime:
        return datetime.now(UTC) if self.real else self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Observed:
    """The metrics observer's calls, as the API's Prometheus adapter would get them."""

    blocked_reasons: list[str] = field(default_factory=list)
    budgets: dict[tuple[str, str], tuple[float, float | None]] = field(default_factory=dict)

    def blocked(self, verdict: Verdict) -> None:
        self.blocked_reasons.append(verdict.reason)

    def budget_used(self, team: str, unit: str, used: float, limit: float | None) -> None:
        self.budgets[(team, unit)] = (used, limit)


@dataclass
class GateRig:
    gate: ReadinessGate
    store: CounterStore
    clock: Clock
    observed: Observed
    pool: AsyncConnectionPool[Any]

    async def rules(self, text: str) -> int:
        rules = load_rules(text)
        version = await self.store.record_rules(rules, "test")
        self.gate.use(ActiveRules(rules, version, "test"))
        return version


def ask(instance: str, step: str, team: str = "payments", agent: str = "bot-1",
        workflow: str = "deploy-service") -> Ask:  # fmt: skip
    return Ask(instance, step, team, workflow, agent)

"""Capacity rules: the YAML document operators write, validated by pydantic.

    kind: gantral/capacity
    plane: {concurrency: 200, steps_per_minute: 6000}      # the whole plane (load shedding)
    default_team: {concurrency: 20, weight: 1}              # every team not listed
    teams:
      payments:
        weight: 2                                           # fair share when teams wait
        concurrency: 10                                     # governed steps running at once
        steps_per_minute: 120
        budget: {period: day, tokens: 2000000, money: 150, currency: USD}
    workflows: {deploy-service: {concurrency: 2}}
    agents: {deploy-bot: {concurrency: 1, steps_per_minute: 30}}

A limit left out is no limit. The rules are operations, not governance: they are never
pinned into an instance, never audited, and a new version applies to the next check.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from gantral.domain.digest import sha256_hex
from gantral.errors import InvalidInput, Reason
from gantral.policy.loading import parse, validate

__all__ = [
    "Budget",
    "CapacityRules",
    "Limits",
    "Period",
    "TeamRules",
    "Timing",
    "load_rules",
    "rules_hash",
]

KIND = "gantral/capacity"
_NAME = r"^[A-Za-z0-9_.:@-]{1,200}$"


class _Strict(BaseModel):
    # A misspelt limit must not silently be no limit.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(StrEnum):
    """Budget periods, calendar-aligned in UTC."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Limits(_Strict):
    concurrency: int | None = Field(default=None, ge=0, le=1_000_000)
    steps_per_minute: int | None = Field(default=None, ge=0, le=10_000_000)


class Budget(_Strict):
    """Cost the team's agents report (tokens, money) within one period."""

    period: Period = Period.DAY
    tokens: int | None = Field(default=None, ge=0)
    money: float | None = Field(default=None, ge=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class TeamRules(Limits):
    weight: float = Field(default=1.0, gt=0, le=1000)
    budget: Budget | None = None


class Timing(_Strict):
    # An ALLOW not followed by STEP_STARTED within this long gives its slot back.
    reservation_seconds: float = Field(default=120.0, gt=0, le=86_400)
    # The retry hint when a slot may free at any moment (concurrency, fairness).
    retry_after_seconds: float = Field(default=2.0, gt=0, le=3_600)
    # A waiter not seen again for this long leaves the fair queue.
    waiter_seconds: float = Field(default=10.0, gt=0, le=3_600)
    # A spent budget is asked again at least this often (it may be raised meanwhile).
    budget_recheck_seconds: float = Field(default=60.0, gt=0, le=86_400)


class CapacityRules(_Strict):
    kind: str = Field(default=KIND, pattern=f"^{KIND}$")
    plane: Limits = Limits()
    default_team: TeamRules = TeamRules()
    teams: dict[str, TeamRules] = Field(default_factory=dict)
    workflows: dict[str, Limits] = Field(default_factory=dict)
    agents: dict[str, Limits] = Field(default_factory=dict)
    timing: Timing = Timing()

    def team(self, team: str) -> TeamRules:
        return self.teams.get(team, self.default_team)

    @property
    def empty(self) -> bool:
        """True when nothing is limited: every check is ready without touching counters."""
        no_team_limits = all(
            t.concurrency is None and t.steps_per_minute is None and t.budget is None
            for t in (self.default_team, *self.teams.values())
        )
        return (
            no_team_limits
            and self.plane == Limits()
            and all(x == Limits() for x in (*self.workflows.values(), *self.agents.values()))
        )


def load_rules(text: str | bytes, *, source: str = "<capacity>") -> CapacityRules:
    """Parse and validate; errors name the field and the line (`InvalidInput`)."""
    data, node = parse(text, source=source)
    rules = validate(CapacityRules, data if data is not None else {}, node, source=source)
    for section in ("teams", "workflows", "agents"):
        for name in getattr(rules, section):
            if re.fullmatch(_NAME, name) is None:
                raise InvalidInput(
                    f"{source}: {section}.{name}: not a valid name",
                    reason=Reason.INVALID_DOCUMENT,
                    field=f"{section}.{name}",
                )
    return rules


def rules_hash(rules: CapacityRules) -> str:
    return "sha256:" + sha256_hex(rules.model_dump(mode="json"))

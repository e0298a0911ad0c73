"""What the gate answers: a verdict and the checks behind it. Plain data, never audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gantral.errors import Reason

__all__ = ["Ask", "Check", "Verdict"]

# Reasons, in the order a blocked verdict names them when several rules block at once.
READY = Reason.READY
BUDGET = Reason.BUDGET
CONCURRENCY = Reason.CONCURRENCY
RATE_LIMIT = Reason.RATE_LIMIT
FAIRNESS = Reason.FAIRNESS
UNAVAILABLE = Reason.COUNTERS_UNAVAILABLE


@dataclass(frozen=True)
class Ask:
    """One governed step about to be authorized: who asks, for what."""

    instance_id: str
    step_id: str
    team: str
    workflow_id: str
    agent_id: str


@dataclass(frozen=True)
class Check:
    """One rule applied to one scope (`plane`, `team:X`, `workflow:W`, `agent:A`)."""

    scope: str
    kind: str  # concurrency | steps_per_minute | tokens | money | fairness
    limit: float
    used: float
    ok: bool
    retry_after: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "kind": self.kind,
            "limit": self.limit,
            "used": self.used,
            "ok": self.ok,
            "retry_after": round(self.retry_after, 3),
        }


@dataclass(frozen=True)
class Verdict:
    """Ready, or why not and when to ask again (seconds)."""

    ready: bool
    reason: Reason
    retry_after: float = 0.0
    scope: str | None = None
    message: str = ""
    rules_version: int | None = None
    checks: tuple[Check, ...] = ()
    at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "reason": self.reason,
            "retry_after": round(self.retry_after, 3),
            "scope": self.scope,
            "message": self.message,
            "rules_version": self.rules_version,
            "checks": [c.to_dict() for c in self.checks],
        }

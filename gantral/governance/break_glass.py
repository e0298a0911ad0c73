"""Break-glass (issue 24), the mirror of a halt: a quorum of named humans
(`GANTRAL_HALTS__BREAK_GLASS`) lets one scope (the shapes of a halt's) pass a policy's
human requirement for a bounded time. Pure.

A break-glass is opened with a scope, a reason and a TTL at most the deployment's maximum;
the opener's approval counts first, each human once. The approval that completes the
quorum puts it in effect for its TTL, from then; it ends by itself and is never extended
(a new quorum opens a new one). While it holds, the API passes it into `authorize` calls
in its scope as a signed fact (`BreakGlassUse`); the workflow re-checks its end against
its own clock, and the materiality, and records `ALLOWED_BY_BREAK_GLASS`. A halt in scope
wins: the API refuses the call before it looks for a break-glass.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from gantral.governance.halts import HaltScope, HaltTarget

__all__ = ["BreakGlass", "BreakGlassApproval", "BreakGlassUse", "covering_glass"]


class BreakGlassApproval(BaseModel):
    """One human's approval: the role they counted in."""

    model_config = ConfigDict(frozen=True)

    human: str
    role: str
    reason: str
    at: datetime


class BreakGlass(BaseModel):
    """A break-glass as stored and listed: pending until its quorum, then in effect from
    `active_from` until `expires_at`."""

    model_config = ConfigDict(frozen=True)

    break_glass_id: str
    scope: HaltScope
    reason: str
    ttl_seconds: float = Field(gt=0)
    opened_by: str
    opened_at: datetime
    approvals: list[BreakGlassApproval] = Field(default_factory=list)
    active_from: datetime | None = None
    expires_at: datetime | None = None

    def in_effect(self, now: datetime) -> bool:
        return (
            self.expires_at is not None and self.active_from is not None and now < self.expires_at
        )

    def pending(self, now: datetime) -> bool:
        """Gathering approvals: not yet in effect, and opened less than its TTL ago (an
        unfinished quorum lapses, so an old ask never opens late)."""
        lapse = self.opened_at + timedelta(seconds=self.ttl_seconds)
        return self.active_from is None and now < lapse

    def state_at(self, now: datetime) -> str:
        if self.in_effect(now):
            return "active"
        return "pending" if self.pending(now) else "ended"


class BreakGlassUse(BaseModel):
    """The fact the API passes into `authorize`: the break-glass in effect over the call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    break_glass_id: str
    # human -> role, the quorum that opened it.
    approvers: dict[str, str]
    expires_at: datetime
    # The deployment lets it pass CRITICAL steps too (`GANTRAL_HALTS__BREAK_GLASS_CRITICAL`).
    critical: bool = False


def covering_glass(
    glasses: Iterable[BreakGlass], target: HaltTarget, now: datetime
) -> BreakGlass | None:
    """The break-glass in effect whose scope covers `target`: the one ending last."""
    held = [g for g in glasses if g.in_effect(now) and g.scope.covers(target)]
    return max(held, key=lambda g: (g.expires_at, g.break_glass_id), default=None)

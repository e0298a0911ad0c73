"""What evaluating a policy for one step yields: the request plan the workflow follows."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from gantral.policy.materiality import Materiality
from gantral.policy.models import ApprovalRule, OnTimeout
from gantral.policy.quorum import roles_in


class Tier(BaseModel):
    """One rung of the escalation chain: who may decide, and for how long.

    Frozen because plans share their tiers: evaluation hands out copies of a plan
    precomputed per materiality level.
    """

    model_config = ConfigDict(frozen=True)

    approvers: ApprovalRule
    timeout: timedelta | None
    # How long before this tier's deadline each reminder goes out, longest first.
    reminders: list[timedelta] = Field(default_factory=list)
    name: str | None = None


class RequestPlan(BaseModel):
    requires_human: bool
    materiality: Materiality
    tiers: list[Tier]
    on_timeout: OnTimeout
    justification_required_for_approve: bool
    override_roles: list[str]
    grant_ttl: timedelta
    explanation: list[str]
    # Humans excluded by separation of duties (requester, agent owner, trigger actor)
    # never count. False only when the policy opts out; the explanation records it.
    separation_of_duties: bool = True
    # The caller may decide in their own MCP client (policy `self_approval: allowed`, at a
    # level that allows it): decisions from channel `mcp-elicitation` need this.
    self_approval: bool = False
    override_requires_justification: bool = True
    # An OVERRIDE takes effect only once a second, different human holding one of
    # `override_roles` has confirmed it.
    override_requires_second_signoff: bool = False
    # Target time to a decision at this materiality (reporting, breach events); the
    # hard deadlines are the tier timeouts.
    sla: timedelta | None = None
    # The materiality rule that set `materiality` (None: the policy's floor applied, or
    # it failed closed), and every rule that matched, in policy order.
    materiality_rule: str | None = None
    matched_rules: list[str] = Field(default_factory=list)
    # Rules that could not be decided (a field missing or of another type), with why:
    # when any, `materiality` is the highest level the policy's rules give.
    unreadable_rules: list[str] = Field(default_factory=list)
    # Where the settings came from: "policy" or "by_materiality.<LEVEL>".
    settings_source: str = "policy"

    def eligible_roles(self, tier: int) -> list[str]:
        return roles_in(self.tiers[min(tier, len(self.tiers) - 1)].approvers) if self.tiers else []

    def deadline_after(self, tier: int) -> timedelta | None:
        """Time from the request's creation to the end of tier `tier` (0-based)."""
        total = timedelta()
        for t in self.tiers[: tier + 1]:
            if t.timeout is None:
                return None
            total += t.timeout
        return total

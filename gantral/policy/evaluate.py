"""Pure, deterministic policy evaluation: from a pinned policy and a step context to a plan.

The workflow calls this itself, so replaying history gives the same answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from gantral.policy.models import ApprovalRule, Materiality, OnTimeout, Policy
from gantral.policy.quorum import describe, roles_in


class Tier(BaseModel):
    """One rung of the escalation chain: who may decide, and for how long."""

    approvers: ApprovalRule
    timeout: timedelta | None


class RequestPlan(BaseModel):
    requires_human: bool
    materiality: Materiality
    tiers: list[Tier]
    on_timeout: OnTimeout
    justification_required_for_approve: bool
    override_roles: list[str]
    grant_ttl: timedelta
    explanation: list[str]

    def eligible_roles(self, tier: int) -> list[str]:
        return roles_in(self.tiers[min(tier, len(self.tiers) - 1)].approvers) if self.tiers else []


def plan_request(policy: Policy, context: dict[str, Any]) -> RequestPlan:
    """Evaluate `policy` for one step. `context` is what the agent sent with its request."""
    del context  # the §6.2 form has no context-dependent rules
    rule = policy.approval_rule
    explanation = [f"materiality {policy.materiality} (fixed by policy)"]
    tiers: list[Tier] = []
    if policy.requires_human_approval:
        tiers.append(Tier(approvers=rule, timeout=policy.timeouts.primary))
        if policy.timeouts.escalation is not None:
            tiers.append(Tier(approvers=rule, timeout=policy.timeouts.escalation))
        explanation.append(f"human approval required: {describe(rule)}")
    else:
        explanation.append("no human approval required")
    return RequestPlan(
        requires_human=policy.requires_human_approval,
        materiality=policy.materiality,
        tiers=tiers,
        on_timeout=policy.on_timeout,
        justification_required_for_approve=policy.justification_required_for_approve,
        override_roles=policy.override_roles or roles_in(rule) if tiers else [],
        grant_ttl=policy.grant_ttl,
        explanation=explanation,
    )

"""Pure, deterministic policy evaluation: from a pinned policy and a step context to a plan.

The workflow calls this itself, so replaying history gives the same answer: no I/O, no
clock, no randomness. The same function re-checks an OVERRIDE's edited arguments
(issue 7): evaluate the pinned policy on the new context and compare the plans with
`needs_more_authority`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gantral.policy.compiled import compiled
from gantral.policy.materiality import Materiality
from gantral.policy.models import AnyOf, Policy, RoleRule
from gantral.policy.plan import RequestPlan, Tier

__all__ = [
    "RequestPlan",
    "Tier",
    "classify",
    "needs_more_authority",
    "plan_request",
    "second_signoff_plan",
]


def plan_request(policy: Policy, context: Mapping[str, Any]) -> RequestPlan:
    """Evaluate `policy` for one step. `context` is what the agent sent with its request.

    Materiality rules read fields of `context` by dotted path (`arguments.amount`); the
    highest matching level wins, never below the policy's `materiality`.
    """
    level, winner, matched = classify(policy, context)
    base = compiled(policy).plans[level]
    if winner is not None:
        head = f"materiality {level}: rule {winner} fired"
    elif policy.materiality_rules:
        head = f"materiality {level} (policy floor; no materiality rule matched)"
    else:
        head = f"materiality {level} (fixed by policy)"
    return base.model_copy(
        update={
            "tiers": list(base.tiers),
            "override_roles": list(base.override_roles),
            "materiality_rule": winner,
            "matched_rules": matched,
            "explanation": [head, *base.explanation],
        }
    )


def classify(
    policy: Policy, context: Mapping[str, Any]
) -> tuple[Materiality, str | None, list[str]]:
    """The materiality of `context`, the rule that set it, and every rule that matched."""
    c = compiled(policy)
    level, winner = c.floor, None
    matched: list[str] = []
    for rule in c.rules:
        if rule.matches(context):
            matched.append(f"{rule.label} ({rule.text})")
            # Strictly higher: on a tie the first rule in the file is the one reported.
            if rule.level.rank > level.rank:
                level, winner = rule.level, matched[-1]
    return level, winner, matched


def needs_more_authority(before: RequestPlan, after: RequestPlan) -> bool:
    """Whether re-evaluating (e.g. an OVERRIDE's edited arguments) asks for more than
    `before` did: a higher materiality, or at the same materiality a need for human
    approval or different approvers. Then the edit must go to the approvers of `after`
    instead of taking effect. A less material edit is covered by the authority that
    approved the more material one."""
    if after.materiality.rank != before.materiality.rank:
        return after.materiality.rank > before.materiality.rank
    if after.requires_human and not before.requires_human:
        return True
    return [t.approvers for t in after.tiers] != [t.approvers for t in before.tiers]


def second_signoff_plan(plan: RequestPlan) -> RequestPlan:
    """The follow-up an override needs when the policy asks for a second sign-off: one more
    human holding an override role, on the same deadlines; the overrider cannot be it."""
    roles = [RoleRule(role=r) for r in plan.override_roles]
    rule = roles[0] if len(roles) == 1 else AnyOf(any_of=list(roles))
    first = plan.tiers[0] if plan.tiers else Tier(approvers=rule, timeout=None)
    return plan.model_copy(
        update={
            "tiers": [Tier(approvers=rule, timeout=first.timeout, reminders=first.reminders)],
            "override_requires_second_signoff": False,
            "explanation": [*plan.explanation, "override needs a second sign-off"],
        }
    )

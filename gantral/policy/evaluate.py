"""Pure, deterministic policy evaluation: from a pinned policy and a step context to a plan.

The workflow calls this itself, so replaying history gives the same answer: no I/O, no
clock, no randomness. The same function re-checks an OVERRIDE's edited arguments
(issue 7): evaluate the pinned policy on the new context and compare the plans with
`needs_more_authority`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from gantral.policy.compiled import compiled
from gantral.policy.conditions import Unreadable
from gantral.policy.materiality import Materiality
from gantral.policy.models import AnyOf, Policy, RoleRule
from gantral.policy.plan import RequestPlan, Tier

__all__ = [
    "Classification",
    "RequestPlan",
    "Tier",
    "classify",
    "needs_more_authority",
    "plan_request",
    "second_signoff_plan",
]


class Classification(NamedTuple):
    level: Materiality
    # The rule that set `level`, every rule that matched (policy order), and every rule
    # that could not be decided, with why (then `level` is the policy's highest).
    winner: str | None
    matched: list[str]
    unreadable: list[str]


def plan_request(policy: Policy, facts: Mapping[str, Any]) -> RequestPlan:
    """Evaluate `policy` for one step. `facts` is `gantral.policy.facts.step_facts(...)`.

    Materiality rules read facts by dotted path (`arguments.amount`); the highest
    matching level wins, never below the policy's `materiality`. A rule that cannot be
    decided (a field missing, or of another type) fails closed: the highest level any
    rule of the policy gives.
    """
    c = classify(policy, facts)
    base = compiled(policy).plans[c.level]
    if c.unreadable:
        head = f"materiality {c.level} (fail closed, the highest any rule gives): " + "; ".join(
            c.unreadable
        )
    elif c.winner is not None:
        head = f"materiality {c.level}: rule {c.winner} fired"
    elif policy.materiality_rules:
        head = f"materiality {c.level} (policy floor; no materiality rule matched)"
    else:
        head = f"materiality {c.level} (fixed by policy)"
    return base.model_copy(
        update={
            "tiers": list(base.tiers),
            "override_roles": list(base.override_roles),
            "materiality_rule": c.winner,
            "matched_rules": c.matched,
            "unreadable_rules": c.unreadable,
            "explanation": [head, *base.explanation],
        }
    )


def classify(policy: Policy, facts: Mapping[str, Any]) -> Classification:
    """The materiality of a step's facts, the rule that set it, and every rule that matched."""
    c = compiled(policy)
    level, winner = c.floor, None
    matched: list[str] = []
    unreadable: list[str] = []
    for rule in c.rules:
        outcome = rule.evaluate(facts)
        if isinstance(outcome, Unreadable):
            unreadable.append(f"rule {rule.label} cannot be decided: {outcome}")
        elif outcome:
            matched.append(f"{rule.label} ({rule.text})")
            # Strictly higher: on a tie the first rule in the file is the one reported.
            if rule.level.rank > level.rank:
                level, winner = rule.level, matched[-1]
    if unreadable:
        # Never the floor: what the rule might have said is unknown, so assume the most.
        return Classification(c.ceiling, None, matched, unreadable)
    return Classification(level, winner, matched, unreadable)


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

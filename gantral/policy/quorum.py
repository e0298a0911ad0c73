"""Quorum over nested role rules, where each human counts at most once.

Satisfaction is a matching problem: `all_of: [A, B]` needs two *different* people,
even if one person holds both roles. Rules are small, so an exhaustive search over
the distinct sets of humans each sub-rule can use is exact and fast enough.

Separation of duties lives here too, as `excluded`: the requester, the agent's owner
and the actor who triggered the instance are removed before anything is counted, so no
rule can ever be satisfied by them, however it is nested.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from itertools import combinations

from pydantic import BaseModel, Field

from gantral.policy.models import AllOf, AnyOf, ApprovalRule, NOfRule, RoleRule

# An approval: the human's id and the role they acted in.
Approvals = Mapping[str, str]


class QuorumProgress(BaseModel):
    """E.g. "2 of 3 approvals, still needed: SECURITY_REVIEWER" for the instance API/memo."""

    satisfied: bool
    still_needed: list[str]
    # Humans whose approval counts toward the rule (role in the rule, not excluded),
    # and the fewest distinct humans the rule can ever be satisfied by.
    counted: list[str] = Field(default_factory=list)
    required: int = 0


def _options(rule: ApprovalRule, approvals: Approvals) -> list[frozenset[str]]:
    """Every minimal set of distinct humans that satisfies `rule`."""
    if isinstance(rule, RoleRule):
        return [frozenset({h}) for h, role in approvals.items() if role == rule.role]
    if isinstance(rule, AnyOf):
        return _dedupe(o for child in rule.any_of for o in _options(child, approvals))
    children = rule.all_of if isinstance(rule, AllOf) else rule.n_of.of
    need = len(children) if isinstance(rule, AllOf) else rule.n_of.n
    result: list[frozenset[str]] = []
    for chosen in combinations(children, need):
        result.extend(_disjoint_unions([_options(c, approvals) for c in chosen]))
    return _dedupe(result)


def _disjoint_unions(option_lists: list[list[frozenset[str]]]) -> list[frozenset[str]]:
    acc: list[frozenset[str]] = [frozenset()]
    for options in option_lists:
        acc = [a | o for a in acc for o in options if not a & o]
        if not acc:
            break
    return acc


def _dedupe(options: Iterable[frozenset[str]]) -> list[frozenset[str]]:
    return list(dict.fromkeys(options))


def describe(rule: ApprovalRule) -> str:
    if isinstance(rule, RoleRule):
        return rule.role
    if isinstance(rule, AnyOf):
        return "any_of(" + ", ".join(describe(r) for r in rule.any_of) + ")"
    if isinstance(rule, AllOf):
        return "all_of(" + ", ".join(describe(r) for r in rule.all_of) + ")"
    return f"{rule.n_of.n}_of(" + ", ".join(describe(r) for r in rule.n_of.of) + ")"


def roles_in(rule: ApprovalRule) -> list[str]:
    if isinstance(rule, RoleRule):
        return [rule.role]
    children = (
        rule.any_of
        if isinstance(rule, AnyOf)
        else rule.all_of
        if isinstance(rule, AllOf)
        else rule.n_of.of
    )
    return list(dict.fromkeys(r for c in children for r in roles_in(c)))


def progress(
    rule: ApprovalRule, approvals: Approvals, *, excluded: Collection[str] = ()
) -> QuorumProgress:
    """Whether `approvals` satisfy `rule`, and which parts still need someone.

    Args:
        rule: the tier's approval rule.
        approvals: human id -> the role that human approved in.
        excluded: humans who never count (separation of duties): the requester, the
            agent's owner, the instance's trigger actor. Pass nothing when the plan says
            `separation_of_duties` is off.
    """
    if excluded:
        approvals = {h: r for h, r in approvals.items() if h not in excluded}
    roles = set(roles_in(rule))
    counted = sorted(h for h, r in approvals.items() if r in roles)
    required = min_humans(rule)
    if _options(rule, approvals):
        return QuorumProgress(satisfied=True, still_needed=[], counted=counted, required=required)
    return QuorumProgress(
        satisfied=False,
        still_needed=_unsatisfied(rule, approvals),
        counted=counted,
        required=required,
    )


def _unsatisfied(rule: ApprovalRule, approvals: Approvals) -> list[str]:
    if _options(rule, approvals):
        return []
    if isinstance(rule, AllOf):
        return [n for c in rule.all_of for n in _unsatisfied(c, approvals)] or [describe(rule)]
    return [describe(rule)]


def min_humans(rule: ApprovalRule) -> int:
    """The fewest distinct humans that can ever satisfy `rule`."""
    if isinstance(rule, RoleRule):
        return 1
    if isinstance(rule, AnyOf):
        return min(min_humans(c) for c in rule.any_of)
    if isinstance(rule, AllOf):
        return sum(min_humans(c) for c in rule.all_of)
    assert isinstance(rule, NOfRule)
    return sum(sorted(min_humans(c) for c in rule.n_of.of)[: rule.n_of.n])

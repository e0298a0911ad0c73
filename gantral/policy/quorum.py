"""Quorum over nested role rules, where each human counts at most once.

Satisfaction is a matching problem: `all_of: [A, B]` needs two *different* people,
even if one person holds both roles. A rule expands into alternatives (lists of role
slots; their number depends only on the rule), and each alternative is checked with a
bipartite matching of humans to slots, so the cost grows polynomially with the number
of approvals: an exhaustive search over sets of humans took seconds for 2,000 of them.

Separation of duties lives here too, as `excluded`: the requester, the agent's owner
and the actor who triggered the instance are removed before anything is counted, so no
rule can ever be satisfied by them, however it is nested.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from itertools import combinations

from pydantic import BaseModel, Field

from gantral.policy.rules import AllOf, AnyOf, ApprovalRule, NOfRule, RoleRule

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


# A slot is one human's place in a quorum: the roles that may fill it. An alternative is
# a list of slots that must all be filled by different humans; a rule is satisfied when
# any of its alternatives is. The alternatives depend only on the rule (small, written by
# a policy author), never on how many approvals arrive.
Slot = frozenset[str]
Alternative = tuple[Slot, ...]

_CACHE_SIZE = 256
_cache: OrderedDict[int, tuple[ApprovalRule, tuple[Alternative, ...]]] = OrderedDict()
# Temporal runs workflow activations on several threads.
_lock = threading.Lock()


def alternatives(rule: ApprovalRule) -> tuple[Alternative, ...]:
    """The rule as a disjunction of slot lists (any_of of single slots merges into one).

    Cached by identity (holding the rule, so an id is never reused while cached): every
    decision re-checks the same pinned rule. Threads share it; the expansion is pure, so
    two threads expanding the same rule at once is harmless.
    """
    key = id(rule)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is rule:
            _cache.move_to_end(key)
            return hit[1]
    result = tuple(_expand(rule))
    with _lock:
        _cache[key] = (rule, result)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _expand(rule: ApprovalRule) -> list[Alternative]:
    if isinstance(rule, RoleRule):
        return [(frozenset({rule.role}),)]
    if isinstance(rule, AnyOf):
        options = _dedupe(a for child in rule.any_of for a in _expand(child))
        if all(len(a) == 1 for a in options):
            # One human holding any of these roles: a single slot accepting all of them.
            return [(frozenset().union(*(a[0] for a in options)),)]
        return options
    children = rule.all_of if isinstance(rule, AllOf) else rule.n_of.of
    need = len(children) if isinstance(rule, AllOf) else rule.n_of.n
    result: list[Alternative] = []
    for chosen in combinations(children, need):
        acc: list[Alternative] = [()]
        for child in chosen:
            acc = [a + b for a in acc for b in _expand(child)]
        result.extend(acc)
    return _dedupe(tuple(sorted(a, key=sorted)) for a in result)


def fills(slots: Alternative, approvals: Approvals) -> bool:
    """Whether different humans can fill every slot: a maximum bipartite matching of
    slots to humans (Kuhn's augmenting paths). Greedy is not enough: in
    `[{A, B}, {A}]` with ann:A and bob:B, giving ann the first slot leaves the second empty.

    Only the first `len(slots)` humans of each role can matter (no more than that many
    slots can use them), so the work is bounded by the rule, not by the approvals.
    """
    by_role: dict[str, list[str]] = {}
    for human in sorted(approvals):
        same_role = by_role.setdefault(approvals[human], [])
        if len(same_role) < len(slots):
            same_role.append(human)
    candidates = [[h for role in sorted(slot) for h in by_role.get(role, ())] for slot in slots]
    holder: dict[str, int] = {}  # human -> the slot they fill

    def place(slot: int, visited: set[str]) -> bool:
        for human in candidates[slot]:
            if human in visited:
                continue
            visited.add(human)
            if human not in holder or place(holder[human], visited):
                holder[human] = slot
                return True
        return False

    return all(place(i, set()) for i in range(len(slots)))


def satisfied(rule: ApprovalRule, approvals: Approvals) -> bool:
    return any(fills(a, approvals) for a in alternatives(rule))


def _dedupe(options: Iterable[Alternative]) -> list[Alternative]:
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
    if satisfied(rule, approvals):
        return QuorumProgress(satisfied=True, still_needed=[], counted=counted, required=required)
    return QuorumProgress(
        satisfied=False,
        still_needed=_unsatisfied(rule, approvals),
        counted=counted,
        required=required,
    )


def _unsatisfied(rule: ApprovalRule, approvals: Approvals) -> list[str]:
    if satisfied(rule, approvals):
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

"""Quorum: each human counts once, excluded humans never count, nesting composes."""

from __future__ import annotations

import time
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from gantral.policy.evaluate import plan_request
from gantral.policy.models import AllOf, AnyOf, ApprovalRule, NOf, NOfRule, Policy, RoleRule
from gantral.policy.quorum import alternatives, fills, min_humans, progress

A, B, C, D = (RoleRule(role=r) for r in "ABCD")


def test_role_rule() -> None:
    assert progress(A, {"ann": "A"}).satisfied
    assert progress(A, {"ann": "B"}).still_needed == ["A"]


def test_all_of_needs_every_part_and_reports_what_is_missing() -> None:
    rule = AllOf(all_of=[A, B, C])
    p = progress(rule, {"ann": "A"})
    assert not p.satisfied and p.still_needed == ["B", "C"]
    assert progress(rule, {"ann": "A", "bob": "B", "cid": "C"}).satisfied


def test_any_of() -> None:
    rule = AnyOf(any_of=[A, B])
    assert progress(rule, {"bob": "B"}).satisfied
    assert progress(rule, {"cid": "C"}).still_needed == ["any_of(A, B)"]


def test_n_of_counts_distinct_humans() -> None:
    rule = NOfRule(n_of=NOf(n=2, of=[A, A, B]))
    assert not progress(rule, {"ann": "A"}).satisfied
    assert progress(rule, {"ann": "A", "amy": "A"}).satisfied
    assert progress(rule, {"ann": "A", "bob": "B"}).satisfied


def test_nested_quorum() -> None:
    rule = AllOf(all_of=[A, NOfRule(n_of=NOf(n=1, of=[B, AnyOf(any_of=[C, A])]))])
    assert not progress(rule, {"ann": "A"}).satisfied  # ann cannot fill both parts
    assert progress(rule, {"ann": "A", "amy": "A"}).satisfied
    assert progress(rule, {"ann": "A", "cid": "C"}).satisfied
    assert min_humans(rule) == 2


def test_excluded_humans_never_count() -> None:
    p = progress(AllOf(all_of=[A, B]), {"req": "A", "bob": "B"}, excluded={"req"})
    assert not p.satisfied and p.still_needed == ["A"]
    assert not progress(A, {"owner": "A"}, excluded=["owner", "trigger"]).satisfied


def test_progress_is_visible_through_a_plan() -> None:
    policy = Policy.model_validate(
        {"requires_human_approval": True, "approvers": [{"role": "A"}, {"role": "B"}]}
    )
    rule = plan_request(policy, {}).tiers[0].approvers
    assert progress(rule, {"ann": "A"}).still_needed == ["B"]


# --- properties -------------------------------------------------------------------

ROLES = ["A", "B", "C", "D"]
roles = st.sampled_from(ROLES)


def _rules() -> st.SearchStrategy[ApprovalRule]:
    leaf = roles.map(lambda r: RoleRule(role=r))

    def extend(children: st.SearchStrategy[ApprovalRule]) -> st.SearchStrategy[ApprovalRule]:
        lists = st.lists(children, min_size=1, max_size=3)
        n_of = lists.flatmap(
            lambda of: st.integers(1, len(of)).map(lambda n: NOfRule(n_of=NOf(n=n, of=of)))
        )
        return st.one_of(
            lists.map(lambda c: AnyOf(any_of=c)), lists.map(lambda c: AllOf(all_of=c)), n_of
        )

    return st.recursive(leaf, extend, max_leaves=6)


rules = _rules()
humans = st.sampled_from(["ann", "bob", "cid", "dee", "eve"])
approvals = st.dictionaries(humans, roles, max_size=5)


@settings(max_examples=300)
@given(rules, humans, roles)
def test_one_person_never_satisfies_a_rule_needing_two(
    rule: ApprovalRule, human: str, role: str
) -> None:
    if min_humans(rule) >= 2:
        assert not progress(rule, {human: role}).satisfied


@settings(max_examples=300)
@given(rules, approvals)
def test_satisfaction_needs_at_least_min_humans(rule: ApprovalRule, given: dict[str, str]) -> None:
    if progress(rule, given).satisfied:
        assert len(given) >= min_humans(rule)


@settings(max_examples=300)
@given(rules, approvals, st.sets(humans))
def test_excluded_humans_are_as_if_they_never_approved(
    rule: ApprovalRule, given: dict[str, str], excluded: set[str]
) -> None:
    kept = {h: r for h, r in given.items() if h not in excluded}
    assert progress(rule, given, excluded=excluded) == progress(rule, kept)


@settings(max_examples=300)
@given(rules, humans, roles)
def test_separation_of_duties_the_requester_alone_never_satisfies(
    rule: ApprovalRule, requester: str, role: str
) -> None:
    assert not progress(rule, {requester: role}, excluded={requester}).satisfied


@settings(max_examples=200)
@given(rules, approvals)
def test_progress_is_deterministic_and_order_independent(
    rule: ApprovalRule, given: dict[str, str]
) -> None:
    reversed_order = dict(reversed(list(given.items())))
    assert progress(rule, given) == progress(rule, given) == progress(rule, reversed_order)


def test_progress_counts_for_the_instance_view() -> None:
    rule = NOfRule(n_of=NOf(n=2, of=[A, B, C]))
    p = progress(rule, {"ann": "A", "req": "B", "zed": "Z"}, excluded={"req"})
    assert (p.counted, p.required, p.satisfied) == (["ann"], 2, False)


# --- the matching -----------------------------------------------------------------


def test_matching_succeeds_where_a_greedy_assignment_fails() -> None:
    # Slots [{A, B}, {A}]: greedy gives ann (A) the first slot and finds nobody for the
    # second; the matching moves ann to the second slot and bob (B) into the first.
    assert fills((frozenset({"A", "B"}), frozenset({"A"})), {"ann": "A", "bob": "B"})
    rule = AllOf(all_of=[AnyOf(any_of=[A, B]), A])
    assert progress(rule, {"ann": "A", "bob": "B"}).satisfied
    assert not progress(rule, {"bob": "B", "bea": "B"}).satisfied


def test_matching_needs_distinct_humans_for_every_slot() -> None:
    slots = (frozenset({"A"}), frozenset({"A", "B"}), frozenset({"B", "C"}))
    assert fills(slots, {"ann": "A", "amy": "A", "cid": "C"})
    assert not fills(slots, {"ann": "A", "cid": "C"})


def test_alternatives_merge_single_slot_choices() -> None:
    assert alternatives(AnyOf(any_of=[A, B])) == ((frozenset({"A", "B"}),),)
    assert len(alternatives(AnyOf(any_of=[AllOf(all_of=[A, B]), C]))) == 2


def test_thousands_of_approvals_are_checked_quickly() -> None:
    rule = AllOf(all_of=[A, NOfRule(n_of=NOf(n=2, of=[B, C, AnyOf(any_of=[A, D])]))])
    many = {f"h{i:04d}": ROLES[i % 3] for i in range(2000)}  # roles A, B, C only
    started = time.perf_counter()
    assert progress(rule, many).satisfied
    assert not progress(AllOf(all_of=[A, D]), many).satisfied
    assert time.perf_counter() - started < 0.5


def _exhaustive(rule: ApprovalRule, given: dict[str, str]) -> list[frozenset[str]]:
    """The former exhaustive search (every minimal set of distinct humans): the oracle."""
    if isinstance(rule, RoleRule):
        return [frozenset({h}) for h, role in given.items() if role == rule.role]
    if isinstance(rule, AnyOf):
        return [o for child in rule.any_of for o in _exhaustive(child, given)]
    children = rule.all_of if isinstance(rule, AllOf) else rule.n_of.of
    need = len(children) if isinstance(rule, AllOf) else rule.n_of.n
    found: list[frozenset[str]] = []
    for chosen in combinations(children, need):
        acc: list[frozenset[str]] = [frozenset()]
        for child in chosen:
            acc = [a | o for a in acc for o in _exhaustive(child, given) if not a & o]
        found.extend(acc)
    return found


@settings(max_examples=500)
@given(rules, approvals)
def test_matching_agrees_with_the_exhaustive_search(
    rule: ApprovalRule, given: dict[str, str]
) -> None:
    assert progress(rule, given).satisfied == bool(_exhaustive(rule, given))

"""Policy evaluation: materiality rules, per-level settings, escalation chains, overrides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gantral.policy.evaluate import classify, needs_more_authority, plan_request
from gantral.policy.models import AllOf, Materiality, NOfRule, OnTimeout, Policy, RoleRule


def policy(text: str) -> Policy:
    return Policy.model_validate(yaml.safe_load(text))


REFERENCE = """
materiality: HIGH
requires_human_approval: true
approvers:
  - role: TECH_LEAD
  - role: SECURITY_REVIEWER
timeouts:
  primary: 30m
  escalation: 60m
"""

PAYMENTS = """
materiality: LOW
materiality_rules:
  - name: large-amount
    level: HIGH
    when: [{field: arguments.amount, op: gt, value: 10000}]
  - name: huge-amount-in-prod
    level: CRITICAL
    when:
      - {field: arguments.amount, op: ge, value: 1000000}
      - {field: environment, op: eq, value: production}
  - name: production
    level: MEDIUM
    when: [{field: environment, op: eq, value: production}]
  - name: personal-data
    level: HIGH
    when: [{field: data_class, op: in, value: [PII, PHI]}]
requires_human_approval: false
by_materiality:
  MEDIUM:
    approvers: [{role: TEAM_LEAD}]
    timeouts: {primary: 1h}
    sla: 4h
  HIGH:
    approvers:
      all_of:
        - role: FINANCE
        - n_of: {n: 1, of: [{role: CFO}, {role: CONTROLLER}]}
    tiers:
      - {name: finance, timeout: 30m, reminders: [10m, 20m]}
      - name: executives
        approvers: {role: CFO}
        timeout: 2h
        reminders: [30m]
    on_timeout: REJECT
    sla: 1h
    override_roles: [CFO]
    override_requires_second_signoff: true
"""


def test_reference_form_keeps_its_meaning() -> None:
    plan = plan_request(policy(REFERENCE), {"anything": 1})
    rule = AllOf(all_of=[RoleRule(role="TECH_LEAD"), RoleRule(role="SECURITY_REVIEWER")])
    assert plan.requires_human and plan.materiality is Materiality.HIGH
    assert [(t.approvers, t.timeout) for t in plan.tiers] == [
        (rule, timedelta(minutes=30)),
        (rule, timedelta(minutes=60)),
    ]
    assert plan.on_timeout is OnTimeout.EXPIRE
    assert plan.override_roles == ["TECH_LEAD", "SECURITY_REVIEWER"]
    assert plan.separation_of_duties and plan.override_requires_justification
    assert not plan.override_requires_second_signoff
    assert plan.grant_ttl == timedelta(minutes=15)
    assert plan.explanation[0] == "materiality HIGH (fixed by policy)"
    assert plan.eligible_roles(5) == ["TECH_LEAD", "SECURITY_REVIEWER"]
    assert plan.deadline_after(1) == timedelta(minutes=90)


def test_no_human_approval_means_no_tiers_and_no_override_roles() -> None:
    plan = plan_request(Policy(), {})
    assert not plan.requires_human and plan.tiers == [] and plan.override_roles == []
    assert plan.eligible_roles(0) == []


@pytest.mark.parametrize(
    ("context", "level", "winner"),
    [
        ({}, Materiality.LOW, None),
        ({"arguments": {"amount": 10000}}, Materiality.LOW, None),
        ({"arguments": {"amount": 10001}}, Materiality.HIGH, "large-amount"),
        ({"arguments": {"amount": "20000"}}, Materiality.LOW, None),  # not a number
        ({"arguments": {"amount": True}}, Materiality.LOW, None),  # bools are not numbers
        ({"environment": "production"}, Materiality.MEDIUM, "production"),
        ({"environment": "staging", "data_class": "PII"}, Materiality.HIGH, "personal-data"),
        (
            {"environment": "production", "arguments": {"amount": 2_000_000}},
            Materiality.CRITICAL,
            "huge-amount-in-prod",
        ),
    ],
)
def test_highest_matching_materiality_rule_wins(
    context: dict[str, Any], level: Materiality, winner: str | None
) -> None:
    plan = plan_request(policy(PAYMENTS), context)
    assert plan.materiality is level
    assert (plan.materiality_rule or "").split(" ")[0] == (winner or "")
    if winner:
        assert plan.explanation[0].startswith(f"materiality {level}: rule {winner} ")


def test_every_matching_rule_is_listed() -> None:
    ctx = {"environment": "production", "arguments": {"amount": 50_000}}
    level, winner, matched = classify(policy(PAYMENTS), ctx)
    assert level is Materiality.HIGH
    assert winner == "large-amount (arguments.amount > 10000)"
    assert matched == [winner, "production (environment == production)"]


def test_the_policy_materiality_is_a_floor() -> None:
    p = policy(PAYMENTS).model_copy(update={"materiality": Materiality.MEDIUM})
    assert plan_request(p, {}).materiality is Materiality.MEDIUM


def test_per_materiality_settings_apply() -> None:
    p = policy(PAYMENTS)
    low = plan_request(p, {})
    assert not low.requires_human
    medium = plan_request(p, {"environment": "production"})
    assert medium.requires_human  # approvers in a level imply approval
    assert medium.eligible_roles(0) == ["TEAM_LEAD"]
    assert medium.sla == timedelta(hours=4)
    assert medium.settings_source == "by_materiality.MEDIUM"


def test_explicit_escalation_chain_with_reminders() -> None:
    plan = plan_request(policy(PAYMENTS), {"arguments": {"amount": 20_000}})
    assert [t.name for t in plan.tiers] == ["finance", "executives"]
    assert plan.tiers[0].reminders == [timedelta(minutes=20), timedelta(minutes=10)]
    assert plan.eligible_roles(0) == ["FINANCE", "CFO", "CONTROLLER"]
    assert plan.eligible_roles(1) == ["CFO"]
    assert isinstance(plan.tiers[0].approvers, AllOf)
    assert isinstance(plan.tiers[0].approvers.all_of[1], NOfRule)
    assert plan.on_timeout is OnTimeout.REJECT and plan.sla == timedelta(hours=1)
    assert plan.override_roles == ["CFO"] and plan.override_requires_second_signoff
    assert plan.deadline_after(1) == timedelta(hours=2, minutes=30)
    assert "tier 1 (finance): all_of(FINANCE, 1_of(CFO, CONTROLLER)) within 30m" in (
        "\n".join(plan.explanation)
    )


def test_a_stricter_level_inherits_the_nearest_lower_level() -> None:
    plan = plan_request(
        policy(PAYMENTS), {"environment": "production", "arguments": {"amount": 10**6}}
    )
    assert plan.materiality is Materiality.CRITICAL
    assert plan.settings_source == "by_materiality.HIGH"
    assert plan.eligible_roles(1) == ["CFO"]


def test_separation_of_duties_opt_out_is_recorded() -> None:
    p = policy(REFERENCE + "separation_of_duties: false\n")
    plan = plan_request(p, {})
    assert not plan.separation_of_duties
    assert "separation of duties: OFF (explicit policy opt-out)" in plan.explanation


def test_policy_level_reminders_apply_to_timeout_tiers() -> None:
    plan = plan_request(policy(REFERENCE + "reminders: [5m]\n"), {})
    assert [t.reminders for t in plan.tiers] == [[timedelta(minutes=5)]] * 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("reminders: [45m]\n", "reminder 45m is not before the 30m deadline"),
        ("tiers: [{timeout: 1m}]\n", "either tiers or timeouts"),
        ("by_materiality: {HIGH: {approvers: []}}\n", "no approvers are listed"),
    ],
)
def test_incoherent_policies_are_refused(extra: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        policy(REFERENCE + extra)


def test_only_the_last_tier_may_wait_forever() -> None:
    with pytest.raises(ValidationError, match="later tiers are unreachable"):
        policy(
            "requires_human_approval: true\ntiers: [{approvers: {role: A}}, {approvers: {role: B}}]"
        )


def test_plans_are_independent_copies() -> None:
    p = policy(REFERENCE)
    first = plan_request(p, {})
    first.tiers.append(first.tiers[0])
    first.explanation.append("mutated")
    second = plan_request(p, {})
    assert len(second.tiers) == 2 and "mutated" not in second.explanation


def test_an_edit_that_raises_materiality_needs_more_authority() -> None:
    p = policy(PAYMENTS)
    before = plan_request(p, {"environment": "production", "arguments": {"amount": 50}})
    same = plan_request(p, {"environment": "production", "arguments": {"amount": 60}})
    after = plan_request(p, {"environment": "production", "arguments": {"amount": 50_000}})
    assert not needs_more_authority(before, same)
    assert needs_more_authority(before, after)
    assert not needs_more_authority(after, before)


@settings(max_examples=300)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "environment": st.sampled_from(["production", "staging", 1, None]),
            "data_class": st.sampled_from(["PII", "PHI", "public"]),
            "arguments": st.fixed_dictionaries(
                {}, optional={"amount": st.one_of(st.integers(-10, 3_000_000), st.floats())}
            ),
        },
    )
)
def test_materiality_is_the_highest_matching_level_and_never_below_the_floor(
    context: dict[str, Any],
) -> None:
    p = policy(PAYMENTS)
    plan = plan_request(p, context)
    _, _, matched = classify(p, context)
    by_name = {r.name: r.level for r in p.materiality_rules}
    levels = [by_name[m.split(" ")[0]] for m in matched]
    assert plan.materiality.rank == max([p.materiality.rank, *(lv.rank for lv in levels)])
    assert plan.requires_human == (plan.materiality is not Materiality.LOW)

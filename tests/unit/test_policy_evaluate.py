"""Policy evaluation: materiality rules (failing closed on what they cannot read),
per-level settings, escalation chains, overrides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gantral.policy.evaluate import classify, needs_more_authority, plan_request
from gantral.policy.facts import step_facts
from gantral.policy.models import AllOf, Materiality, NOfRule, OnTimeout, Policy, RoleRule


def policy(text: str) -> Policy:
    return Policy.model_validate(yaml.safe_load(text))


def facts(
    amount: Any = 5, *, environment: Any = "staging", data_class: Any = "public", **more: Any
) -> dict[str, Any]:
    """A step's facts, complete for PAYMENTS unless a field is passed as `ABSENT`."""
    arguments = {"amount": amount, "data_class": data_class, **more}
    trigger = {"environment": environment}
    return step_facts(
        arguments={k: v for k, v in arguments.items() if v is not ABSENT},
        trigger_context={k: v for k, v in trigger.items() if v is not ABSENT},
        owning_team_id="payments",
        workflow_id="pay",
    )


ABSENT = object()


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
      - {field: trigger.environment, op: eq, value: production}
  - name: production
    level: MEDIUM
    when: [{field: trigger.environment, op: eq, value: production}]
  - name: personal-data
    level: HIGH
    when: [{field: arguments.data_class, op: in, value: [PII, PHI]}]
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
    ("given", "level", "winner"),
    [
        (facts(10000), Materiality.LOW, None),
        (facts(10001), Materiality.HIGH, "large-amount"),
        (facts(10000.5), Materiality.HIGH, "large-amount"),
        (facts(environment="production"), Materiality.MEDIUM, "production"),
        (facts(data_class="PII"), Materiality.HIGH, "personal-data"),
        (facts(2_000_000, environment="production"), Materiality.CRITICAL, "huge-amount-in-prod"),
    ],
)
def test_highest_matching_materiality_rule_wins(
    given: dict[str, Any], level: Materiality, winner: str | None
) -> None:
    plan = plan_request(policy(PAYMENTS), given)
    assert plan.materiality is level and plan.unreadable_rules == []
    assert (plan.materiality_rule or "").split(" ")[0] == (winner or "")
    if winner:
        assert plan.explanation[0].startswith(f"materiality {level}: rule {winner} ")


@pytest.mark.parametrize(
    ("given", "why"),
    [
        (facts("20000"), "rule large-amount cannot be decided: arguments.amount is a string, "
         "not a number"),
        (facts(True), "arguments.amount is a boolean, not a number"),
        (facts(None), "arguments.amount is null, not a number"),
        (facts({"value": 20000}), "arguments.amount is an object, not a number"),
        (facts(ABSENT), "rule large-amount cannot be decided: arguments.amount is missing"),
        (facts(environment=1), "rule production cannot be decided: trigger.environment is a "
         "number, not a string"),
        (facts(environment=ABSENT), "trigger.environment is missing"),
        (facts(data_class=["PII"]), "rule personal-data cannot be decided: arguments.data_class"
         " is a list, not a string"),
        (facts(data_class=ABSENT), "arguments.data_class is missing"),
    ],
)  # fmt: skip
def test_a_field_missing_or_of_another_type_fails_closed_at_the_highest_level(
    given: dict[str, Any], why: str
) -> None:
    plan = plan_request(policy(PAYMENTS), given)
    # The highest level any rule gives (CRITICAL), never the floor (LOW).
    assert plan.materiality is Materiality.CRITICAL and plan.requires_human
    assert plan.materiality_rule is None
    assert any(why in u for u in plan.unreadable_rules), plan.unreadable_rules
    assert plan.explanation[0].startswith("materiality CRITICAL (fail closed")
    assert why in plan.explanation[0]


def test_fail_closed_level_is_the_highest_rule_not_always_critical() -> None:
    p = policy(
        "materiality_rules:\n"
        "  - {level: HIGH, when: [{field: arguments.amount, op: gt, value: 10000}]}\n"
        "  - {level: MEDIUM, when: [{field: team, op: eq, value: payments}]}\n"
    )
    plan = plan_request(p, {"arguments": {"amount": "20000"}, "team": "risk"})
    assert plan.materiality is Materiality.HIGH and plan.requires_human is False
    assert plan.unreadable_rules == [
        "rule materiality_rules[0] cannot be decided: arguments.amount is a string, not a number"
    ]
    floor_above = p.model_copy(update={"materiality": Materiality.CRITICAL})
    assert plan_request(floor_above, {"arguments": {}}).materiality is Materiality.CRITICAL


def test_a_false_condition_decides_a_rule_so_an_exists_guard_keeps_absence_out() -> None:
    p = policy(
        "materiality_rules:\n"
        "  - level: HIGH\n"
        "    when:\n"
        "      - {field: arguments.region, op: exists}\n"
        "      - {field: arguments.region, op: eq, value: eu}\n"
        "  - {level: CRITICAL, when: [{field: arguments.kind, op: missing}]}\n"
    )
    assert plan_request(p, {"arguments": {"kind": "x"}}).materiality is Materiality.LOW
    assert plan_request(p, {"arguments": {"kind": "x", "region": "eu"}}).materiality is (
        Materiality.HIGH
    )
    # Present but of another type: the guard holds, the comparison cannot be decided.
    wrong = plan_request(p, {"arguments": {"kind": "x", "region": 5}})
    assert wrong.materiality is Materiality.CRITICAL and wrong.unreadable_rules
    # `missing` is explicit about absence: an absent field is an answer, not a failure.
    absent = plan_request(p, {"arguments": {}})
    assert absent.materiality is Materiality.CRITICAL and absent.unreadable_rules == []
    assert absent.materiality_rule == "materiality_rules[1] (arguments.kind missing)"


def test_a_pinned_policy_reading_free_context_decodes_and_fails_closed() -> None:
    # Published before fields were checked (and so still pinned by running instances):
    # it must decode, and its rule on free-form context can never lower materiality.
    old = Policy.model_validate(
        {
            "materiality_rules": [
                {"level": "HIGH", "when": [{"field": "environment", "op": "exists"}]},
                {"level": "MEDIUM", "when": [{"field": "environment", "op": "missing"}]},
            ]
        }
    )
    plan = plan_request(old, {**facts(), "environment": "production"})
    assert plan.materiality is Materiality.HIGH and plan.matched_rules == []
    assert "environment is not a fact a policy may read" in plan.unreadable_rules[0]


def test_every_matching_rule_is_listed() -> None:
    level, winner, matched, unreadable = classify(
        policy(PAYMENTS), facts(50_000, environment="production")
    )
    assert level is Materiality.HIGH and unreadable == []
    assert winner == "large-amount (arguments.amount > 10000)"
    assert matched == [winner, "production (trigger.environment == production)"]


def test_the_policy_materiality_is_a_floor() -> None:
    p = policy(PAYMENTS).model_copy(update={"materiality": Materiality.MEDIUM})
    assert plan_request(p, facts()).materiality is Materiality.MEDIUM


def test_per_materiality_settings_apply() -> None:
    p = policy(PAYMENTS)
    low = plan_request(p, facts())
    assert not low.requires_human
    medium = plan_request(p, facts(environment="production"))
    assert medium.requires_human  # approvers in a level imply approval
    assert medium.eligible_roles(0) == ["TEAM_LEAD"]
    assert medium.sla == timedelta(hours=4)
    assert medium.settings_source == "by_materiality.MEDIUM"


def test_explicit_escalation_chain_with_reminders() -> None:
    plan = plan_request(policy(PAYMENTS), facts(20_000))
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
    plan = plan_request(policy(PAYMENTS), facts(10**6, environment="production"))
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
    before = plan_request(p, facts(50, environment="production"))
    same = plan_request(p, facts(60, environment="production"))
    after = plan_request(p, facts(50_000, environment="production"))
    assert not needs_more_authority(before, same)
    assert needs_more_authority(before, after)
    assert not needs_more_authority(after, before)


@settings(max_examples=300)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "trigger": st.fixed_dictionaries(
                {}, optional={"environment": st.sampled_from(["production", "staging", 1, None])}
            ),
            "arguments": st.fixed_dictionaries(
                {},
                optional={
                    "amount": st.one_of(
                        st.integers(-10, 3_000_000), st.floats(), st.text(max_size=3)
                    ),
                    "data_class": st.sampled_from(["PII", "PHI", "public", 3]),
                },
            ),
        },
    )
)
def test_materiality_is_the_highest_matching_level_or_fails_closed_never_below_the_floor(
    given: dict[str, Any],
) -> None:
    p = policy(PAYMENTS)
    plan = plan_request(p, given)
    _, _, matched, unreadable = classify(p, given)
    by_name = {r.name: r.level for r in p.materiality_rules}
    if unreadable:
        assert plan.materiality is Materiality.CRITICAL  # the highest rule of PAYMENTS
    else:
        levels = [by_name[m.split(" ")[0]] for m in matched]
        assert plan.materiality.rank == max([p.materiality.rank, *(lv.rank for lv in levels)])
    assert plan.requires_human == (plan.materiality is not Materiality.LOW)

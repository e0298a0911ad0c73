"""Dry run: the decision path, through `explain` and through the offline CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from gantral.cli.policy import policy_app
from gantral.policy.evaluate import plan_request
from gantral.policy.explain import MAX_APPROVALS, Actors, explain
from gantral.policy.facts import given_facts
from gantral.policy.loading import load_file, load_policy
from gantral.policy.models import Policy

EXAMPLES = Path(__file__).parents[2] / "examples" / "policies"
PAYMENTS = load_file(EXAMPLES / "payments.yaml")
assert isinstance(PAYMENTS, Policy)
BIG = given_facts(
    arguments={"amount": 20_000, "data_class": "public"}, trigger={"environment": "staging"}
)
SMALL = given_facts(
    arguments={"amount": 10, "data_class": "public"}, trigger={"environment": "staging"}
)
runner = CliRunner()


def test_pending_path_says_who_is_missing_and_when_it_times_out() -> None:
    path = explain(PAYMENTS, BIG, Actors(approvals={"alice": "FINANCE"}))
    assert path.outcome == "PENDING" and path.approved_at_tier is None
    assert path.materiality == "HIGH" and path.materiality_rule is not None
    first, second = path.tiers
    assert first.still_needed == ["1_of(CFO, CONTROLLER)"] and first.counted == ["alice"]
    assert first.min_humans == 2
    assert [str(first.deadline_after), str(second.deadline_after)] == ["0:30:00", "2:30:00"]
    assert (
        second.reminders_after
        == [second.deadline_after - first.timeout]
        == [  # type: ignore[operator]
            path.final_deadline_after - first.timeout  # type: ignore[operator]
        ]
    )
    assert path.explanation[-1] == (
        "verdict: PENDING (tier 1 still needs 1_of(CFO, CONTROLLER); tier 2 still needs CFO);"
        " REJECT after 2h30m"
    )


def test_separation_of_duties_ignores_the_requester_and_owner() -> None:
    actors = Actors(
        approvals={"alice": "FINANCE", "bob": "CFO"}, requester="bob", agent_owner="bob"
    )
    path = explain(PAYMENTS, BIG, actors)
    assert path.outcome == "PENDING"
    assert path.ignored_approvals == {"bob": "separation of duties (requester, agent owner)"}
    opted_out = PAYMENTS.model_copy(update={"separation_of_duties": False})
    assert explain(opted_out, BIG, actors).outcome == "APPROVED"


def test_roles_that_are_not_approvers_are_reported() -> None:
    path = explain(PAYMENTS, BIG, Actors(approvals={"eve": "INTERN"}))
    assert path.ignored_approvals == {"eve": "role INTERN is not an approver at HIGH"}


def test_allow_when_no_human_is_needed() -> None:
    path = explain(PAYMENTS, SMALL, Actors())
    assert path.outcome == "ALLOW" and path.tiers == [] and path.final_deadline_after is None


def test_a_dry_run_shows_what_failed_closed() -> None:
    typo = given_facts(arguments={"amount": "20000", "data_class": "public"}, trigger={})
    path = explain(PAYMENTS, typo, Actors())
    assert path.outcome == "PENDING" and path.materiality == "CRITICAL"
    assert path.unreadable_rules == [
        "rule large-amount cannot be decided: arguments.amount is a string, not a number",
        "rule very-large-amount-in-production cannot be decided: "
        "arguments.amount is a string, not a number",
        "rule production cannot be decided: trigger.environment is missing",
    ]


def test_approvals_are_capped() -> None:
    many = {f"h{i}": "FINANCE" for i in range(MAX_APPROVALS + 1)}
    with pytest.raises(ValidationError, match=f"at most {MAX_APPROVALS} approvals"):
        Actors(approvals=many)
    with pytest.raises(ValidationError, match="at most 256 characters"):
        Actors(requester="x" * 257)


def test_json_is_human_readable() -> None:
    body = json.loads(explain(PAYMENTS, BIG, Actors()).model_dump_json())
    assert body["tiers"][0]["timeout"] == "30m"
    assert body["final_deadline_after"] == "2h30m"
    assert body["override"] == {
        "roles": ["CFO"],
        "requires_justification": True,
        "requires_second_signoff": True,
    }


values = st.sampled_from(["production", "staging", "PII", None, True, 3, 0.5, "9e9"])
contexts = st.builds(
    given_facts,
    arguments=st.dictionaries(
        st.sampled_from(["amount", "data_class"]), st.one_of(values, st.integers())
    ),
    trigger=st.dictionaries(st.just("environment"), values),
)


@settings(max_examples=200)
@given(
    contexts,
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["FINANCE", "CFO", "CONTROLLER", "TEAM_LEAD"]),
    ),
)
def test_evaluation_is_deterministic(context: dict[str, Any], approvals: dict[str, str]) -> None:
    # A freshly parsed copy of the policy: the compile cache must not change answers.
    fresh = load_file(EXAMPLES / "payments.yaml")
    assert isinstance(fresh, Policy)
    assert plan_request(PAYMENTS, context) == plan_request(fresh, context)
    actors = Actors(approvals=approvals, requester="a")
    assert explain(PAYMENTS, context, actors) == explain(fresh, context, actors)


def test_cli_evaluate(tmp_path: Path) -> None:
    args = tmp_path / "args.yaml"
    args.write_text("amount: 20000\ndata_class: public\n")
    result = runner.invoke(
        policy_app,
        [
            "evaluate",
            str(EXAMPLES / "payments.yaml"),
            "--arguments",
            str(args),
            "--trigger",
            '{"environment": "staging"}',
            "--actor",
            "alice:FINANCE",
            "--actor",
            "bob:CFO",
            "--requester",
            "carol",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["outcome"] == "APPROVED" and body["approved_at_tier"] == 1
    assert body["materiality"] == "HIGH" and body["unreadable_rules"] == []


def test_cli_evaluate_inline_context_and_bad_actor() -> None:
    ok = runner.invoke(
        policy_app, ["evaluate", str(EXAMPLES / "reference.yaml"), "--arguments", "{}"]
    )
    assert json.loads(ok.stdout)["outcome"] == "PENDING"
    not_object = runner.invoke(
        policy_app, ["evaluate", str(EXAMPLES / "reference.yaml"), "--trigger", "[1]"]
    )
    assert not_object.exit_code == 2 and "--trigger" in not_object.stderr
    bad = runner.invoke(
        policy_app, ["evaluate", str(EXAMPLES / "reference.yaml"), "--actor", "alice"]
    )
    assert bad.exit_code == 2 and "HUMAN_ID:ROLE" in bad.stderr


def test_cli_validate(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("requires_human_approval: true\napprovers:\n  - role: A\n  - rol: B\n")
    result = runner.invoke(policy_app, ["validate", str(EXAMPLES / "reference.yaml"), str(bad)])
    assert result.exit_code == 1
    assert f"ok {EXAMPLES / 'reference.yaml'} (sha256:" in result.stdout
    assert f"{bad}:4: approvers[1].role: Field required" in result.stderr
    good = runner.invoke(policy_app, ["validate", *map(str, sorted(EXAMPLES.glob("*.yaml")))])
    assert good.exit_code == 0, good.output


def test_cli_validate_refuses_a_rule_on_free_context(tmp_path: Path) -> None:
    free = tmp_path / "free.yaml"
    free.write_text(
        "materiality_rules:\n"
        "  - level: HIGH\n"
        "    when:\n"
        "      - {field: environment, op: eq, value: production}\n"
    )
    result = runner.invoke(policy_app, ["validate", str(free)])
    assert result.exit_code == 1
    assert (
        f"{free}:4: materiality_rules[0].when[0].field: environment is not a fact a policy "
        "may read: rules read only arguments.*" in result.stderr
    )


def test_policy_text_round_trip_keeps_meaning() -> None:
    again = load_policy(json.dumps(PAYMENTS.model_dump(mode="json")))
    assert again == PAYMENTS and again.content_hash() == PAYMENTS.content_hash()

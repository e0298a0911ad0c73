"""Loading policy files: errors name the field and the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gantral.errors import Conflict, InvalidInput
from gantral.policy.loading import (
    load_document,
    load_file,
    load_policy,
    load_template,
    parse,
    validate,
)
from gantral.policy.models import Materiality, Policy
from gantral.policy.templates import WorkflowTemplate

EXAMPLES = sorted(
    p
    for p in (Path(__file__).parents[2] / "examples" / "policies").iterdir()
    if p.suffix in {".yaml", ".json"}
)


def error_of(text: str) -> InvalidInput | Conflict:
    with pytest.raises((InvalidInput, Conflict)) as caught:
        load_policy(text, source="p.yaml")
    return caught.value


@pytest.mark.parametrize(
    ("text", "field", "line", "message"),
    [
        (
            "requires_human_approval: true\napprovers:\n  any_of:\n    - role: A\n    - rol: B\n",
            "approvers.any_of[1]",
            5,
            "exactly one of: role, any_of, all_of, n_of",
        ),
        (
            "requires_human_approval: true\napprovers:\n  - role: A\n  - {role: 3}\n",
            "approvers[1].role",
            4,
            "valid string",
        ),
        ("\n\napprovers:\n  n_of:\n    of: [{role: A}]\n", "approvers.n_of.n", 4, "required"),
        ("by_materiality:\n  VERY: {}\n", "by_materiality.VERY", 2, "'LOW', 'MEDIUM'"),
        (
            "materiality_rules:\n  - level: HIGH\n    when:\n      - field: amount\n"
            "        op: gt\n        value: lots\n",
            "materiality_rules[0].when[0]",
            4,
            "op gt needs a number",
        ),
        ("timeouts:\n  primary: 30x\n", "timeouts.primary", 2, "duration must be like"),
        ("materiality: HIGH\nmaterality: LOW\n", "materality", 2, "Extra inputs"),
        ("x: 1\nx: 2\n", "x", 2, "duplicate key"),
        (
            "requires_human_approval: true\napprovers: [{role: A}]\n"
            "timeouts: {primary: 30m}\nreminders: [45m]\n",
            "reminders",
            4,
            "reminder 45m is not before the 30m deadline",
        ),
        (
            "requires_human_approval: true\napprovers: [{role: A}]\nby_materiality:\n"
            "  HIGH:\n    tiers:\n      - timeout: 10m\n      - {timeout: 5m, reminders: [5m]}\n",
            "by_materiality.HIGH.tiers[1].reminders",
            7,
            "reminder 5m is not before the 5m deadline",
        ),
        (
            "requires_human_approval: true\n",
            "approvers",
            1,
            "no approvers are listed",
        ),
    ],
)
def test_errors_name_field_and_line(text: str, field: str, line: int, message: str) -> None:
    err = error_of(text)
    assert (err.details["field"], err.details["line"]) == (field, line)
    assert message in err.message
    assert err.message.startswith(f"p.yaml:{line}: {field}: ")


@pytest.mark.parametrize(
    "text",
    [
        "requires_human_approval: true\napprovers: [{role: A}]\n"
        "timeouts: {primary: 30m}\nreminders: [45m]\n",
        "requires_human_approval: true\napprovers: [{role: A}]\ntimeouts: {escalation: 1h}\n",
        "requires_human_approval: true\napprovers: [{role: A}]\n"
        "tiers: [{name: a}, {name: b, timeout: 1h}]\n",
        # A level's reminders with no deadline at any level to count back from.
        "requires_human_approval: true\napprovers: [{role: A}]\n"
        "by_materiality: {LOW: {approvers: [{role: B}], reminders: [5m]}}\n",
    ],
)
def test_durations_that_contradict_each_other_are_a_conflict(text: str) -> None:
    """Each duration is valid alone (no schema can say the rule): 409, like steps that
    contradict each other, never a 422 for a document the published schema accepts."""
    err = error_of(text)
    assert isinstance(err, Conflict) and err.reason == "inconsistent_timing"
    assert err.details["field"] and err.details["line"]


def test_an_inlined_policy_that_is_not_the_pinned_version_is_a_conflict() -> None:
    text = (
        "id: w\nsteps:\n  - id: s\n    policy: {materiality: HIGH}\n"
        "    policy_ref: {id: p, version: 1, content_hash: 'sha256:" + "0" * 64 + "'}\n"
    )
    with pytest.raises(Conflict) as caught:
        load_template(text, source="w.yaml")
    assert caught.value.reason == "policy_hash_mismatch"
    assert caught.value.details["field"] == "steps[0]"


def test_a_timing_problem_beside_another_is_invalid_input() -> None:
    err = error_of("requires_human_approval: true\napprovers: [{role: A}]\nreminders: [45m]\n"
                   "timeouts: {primary: 30m}\nmaterality: LOW\n")  # fmt: skip
    assert isinstance(err, InvalidInput)


def test_syntax_errors_have_a_line() -> None:
    err = error_of("approvers:\n  - role: A\n  role: B\n")
    assert err.details["line"] == 3 and err.reason == "invalid_document"


def test_json_documents_load_with_lines() -> None:
    text = json.dumps({"requires_human_approval": True, "approvers": [{"role": 1}]}, indent=2)
    err = error_of(text)
    assert err.details["field"] == "approvers[0].role" and err.details["line"] == 5


def test_validate_without_a_file_still_names_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate(Policy, {"approvers": {"all_of": []}}, None)
    assert caught.value.details["field"] == "approvers.all_of"
    assert caught.value.details["line"] is None


def test_every_error_is_reported() -> None:
    err = error_of("materiality: SEVERE\ngrant_ttl: -1\n")
    assert [e["field"] for e in err.details["errors"]] == ["materiality", "grant_ttl"]


def test_empty_file_is_the_default_policy() -> None:
    assert load_policy("") == Policy()


def test_documents_are_told_apart() -> None:
    assert isinstance(load_document("materiality: HIGH\n"), Policy)
    doc = load_document("id: deploy\nsteps: [{id: ship}]\n")
    assert isinstance(doc, WorkflowTemplate) and doc.steps[0].id == "ship"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    doc = load_file(path)
    if isinstance(doc, Policy):
        assert doc.materiality in Materiality
    # What is stored (and what Temporal carries) is the JSON dump: it must load back equal.
    assert type(doc).model_validate_json(doc.model_dump_json()) == doc


@pytest.mark.parametrize(
    ("field", "why"),
    [
        ("environment", "environment is not a fact a policy may read"),
        ("context.environment", "context.environment is not a fact a policy may read"),
        ("arguments", "arguments is an object: name a field inside it (arguments.<name>)"),
        ("team.name", "team.name has no fields: team is an id, compare it whole"),
    ],
)
def test_rules_on_fields_that_are_not_facts_are_refused_with_field_and_line(
    field: str, why: str
) -> None:
    text = (
        "id: flow\nsteps:\n  - id: pay\n    policy:\n      materiality_rules:\n"
        f"        - level: HIGH\n          when: [{{field: {field}, op: exists}}]\n"
    )
    with pytest.raises(InvalidInput) as caught:
        load_template(text, source="flow.yaml")
    err = caught.value
    assert err.reason == "field_not_a_fact"
    assert (err.details["field"], err.details["line"]) == (
        "steps[0].policy.materiality_rules[0].when[0].field",
        7,
    )
    assert why in err.message and "trigger.* (the trigger context" in err.message


def test_rules_on_facts_load() -> None:
    policy = load_policy(
        "materiality_rules:\n"
        "  - level: HIGH\n"
        "    when:\n"
        "      - {field: arguments.amount, op: gt, value: 1}\n"
        "      - {field: trigger.environment, op: eq, value: production}\n"
        "      - {field: team, op: in, value: [payments]}\n"
        "      - {field: workflow, op: ne, value: sandbox}\n"
    )
    assert len(policy.materiality_rules[0].when) == 4


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("requires_human_approval: true\nsla: 2024-01-01\n", "not_i_json"),
        (
            "materiality_rules:\n  - level: HIGH\n"
            "    when: [{field: arguments.n, op: gt, value: 9007199254740993}]\n",
            "not_i_json",
        ),
    ],
)
def test_documents_must_be_i_json(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        load_policy(text)
    assert info.value.reason == reason


def test_json_surrogate_pairs_read_as_one_character() -> None:
    # JSON escapes U+1F600 as a UTF-16 pair; PyYAML alone would read two lone halves
    # (then refused as not I-JSON). A lone half is still refused.
    from gantral.policy.loading import load_policy

    policy = load_policy('{"description": "\\ud83d\\ude00", "override_roles": ["\\ud83d\\ude00"]}')
    assert policy.description == "\U0001f600" and policy.override_roles == ["\U0001f600"]
    with pytest.raises(InvalidInput, match="lone surrogate"):
        load_policy('{"description": "\\ud83d"}')


def test_json_with_a_key_too_long_for_yaml_is_read_as_json() -> None:
    # PyYAML reads no simple key longer than 1,024 characters; JSON has no such limit, and
    # schemathesis sent one (issue 27). Read as JSON, it loads; its errors name the field,
    # and a duplicate key is still refused.
    key = "k" * 1100
    trigger = {"source": "s", "match": {key: 1}}
    template = load_template(json.dumps({"id": "w", "steps": [{"id": "a"}], "triggers": [trigger]}))
    assert list(template.triggers[0].match) == [key]
    with pytest.raises(InvalidInput) as caught:
        load_policy(json.dumps({"description": 1, key: 1}))
    assert caught.value.details["field"] in {"description", key}
    with pytest.raises(InvalidInput, match="duplicate key"):
        load_policy(f'{{"description": "a", "description": "b", "{key}": 1}}')
    with pytest.raises(InvalidInput, match=r"p\.yaml:1"):
        load_policy("{a: [}", source="p.yaml")


def test_a_document_holding_nul_is_refused_naming_the_field() -> None:
    # PostgreSQL jsonb, where documents are stored, cannot hold U+0000.
    from gantral.policy.loading import load_policy

    with pytest.raises(InvalidInput, match="U\\+0000") as caught:
        load_policy('description: ok\noverride_roles: ["a\\0b"]\n')
    assert caught.value.details["field"] == "override_roles[0]"
    assert caught.value.details["line"] == 2


def test_json_numbers_in_exponent_form_stay_numbers() -> None:
    # YAML 1.1 reads `1e-05` (no dot) as a string; a JSON body's number is a number.
    data, _ = parse('{"sla": 1e-05, "n": 2E3, "m": -1.5e+2, "quoted": "1e5", "i": 3}')
    assert data == {"sla": 1e-05, "n": 2000.0, "m": -150.0, "quoted": "1e5", "i": 3}
    policy = {"requires_human_approval": False, "sla": 1e-05}
    loaded = load_policy(json.dumps(policy))
    assert loaded.sla is not None and loaded.sla.total_seconds() == pytest.approx(1e-05)

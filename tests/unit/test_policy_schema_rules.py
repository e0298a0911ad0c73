"""The published policy schema and the loader agree on the cross-field rules the schema
can say (`gantral.policy.schema_rules`): which levels need a human, where their
approvers come from, one chain per settings object, no empty tier. Documents are drawn
from every combination of those fields; the schema accepts exactly what the loader does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gantral.errors import Conflict, InvalidInput
from gantral.policy.loading import refuse_non_facts, validate
from gantral.policy.models import Policy
from gantral.policy.schema import document_schema

ABSENT = object()
LEVELS = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
APPROVERS = st.sampled_from([ABSENT, None, [], [{"role": "A"}], {"any_of": [{"role": "B"}]}])
# Every tier has a timeout and no reminders: those rules are not the schema's.
TIER = st.fixed_dictionaries(
    {"timeout": st.just("1h")},
    optional={"approvers": st.sampled_from([None, [], [{"role": "C"}]])},
)
TIERS = st.one_of(st.sampled_from([ABSENT, None]), st.lists(TIER, min_size=1, max_size=2))
TIMEOUTS = st.sampled_from([ABSENT, None, {}, {"primary": "1h"}])
HUMAN = st.sampled_from([ABSENT, None, True, False])
REMINDERS = st.sampled_from([ABSENT, None, []])


def _settings(**fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(fields).map(
        lambda d: {k: v for k, v in d.items() if v is not ABSENT}
    )


LEVEL = _settings(
    requires_human_approval=HUMAN, approvers=APPROVERS, tiers=TIERS, timeouts=TIMEOUTS,
    reminders=REMINDERS,
)  # fmt: skip
POLICY = st.tuples(
    _settings(
        requires_human_approval=HUMAN, approvers=APPROVERS, tiers=TIERS, timeouts=TIMEOUTS,
        reminders=REMINDERS,
    ),
    st.dictionaries(st.sampled_from(LEVELS), LEVEL, max_size=3),
).map(lambda p: {**p[0], "by_materiality": p[1]} if p[1] else p[0])  # fmt: skip

VALIDATOR = jsonschema.Draft202012Validator(document_schema(Policy))


def _loads(document: dict[str, Any]) -> bool:
    try:
        validate(Policy, document, None)
    except InvalidInput:
        return False
    except Conflict as refused:
        # Durations that contradict each other: a valid shape no schema can refuse (409).
        assert refused.reason == "inconsistent_timing"
    return True


@settings(max_examples=3000, deadline=None)
@given(POLICY)
def test_the_schema_accepts_exactly_what_the_loader_accepts(document: dict[str, Any]) -> None:
    assert VALIDATOR.is_valid(document) == _loads(document), json.dumps(document)


@pytest.mark.parametrize(
    "document",
    [
        {"requires_human_approval": True},
        {"by_materiality": {"HIGH": {"requires_human_approval": True}}},
        {"by_materiality": {"HIGH": {"approvers": []}}},
        {"tiers": [{"approvers": [], "timeout": "1h"}]},
        {"tiers": [{"timeout": "1h"}], "reminders": []},
        {"by_materiality": {"LOW": {"tiers": [{"timeout": "1h"}], "timeouts": {"primary": "1h"}}}},
        {"tiers": [{"reminders": ["5m"]}]},
    ],
)
def test_refused_by_both(document: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(document) and not _loads(document)


def test_the_published_file_carries_the_rules() -> None:
    published = json.loads(
        (Path(__file__).resolve().parents[2] / "specs" / "policy.schema.json").read_text()
    )
    assert published["allOf"] == document_schema(Policy)["allOf"]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=25), st.integers(min_value=0, max_value=25))
def test_n_of_agrees(n: int, count: int) -> None:
    document = {"approvers": {"n_of": {"n": n, "of": [{"role": f"r{i}"} for i in range(count)]}}}
    assert VALIDATOR.is_valid(document) == _loads(document), (n, count)


@pytest.mark.parametrize(
    ("steps", "accepted"),
    [
        ([{"id": "a"}], True),
        ([{"id": "a", "depends_on": ["a"]}], False),
        ([{"id": "a", "depends_on": ["b"]}], False),
        ([{"id": "a", "depends_on": [""]}], False),
        ([{"id": "a"}, {"id": "b", "depends_on": ["a"]}], True),
    ],
)
def test_a_single_step_depends_on_nothing(steps: list[dict[str, Any]], accepted: bool) -> None:
    from gantral.policy.templates import WorkflowTemplate

    document = {"id": "w", "steps": steps}
    schema = jsonschema.Draft202012Validator(document_schema(WorkflowTemplate))
    assert schema.is_valid(document) == accepted
    try:
        validate(WorkflowTemplate, document, None)
    except Conflict as refused:  # steps that contradict each other: 409 inconsistent_steps
        assert not accepted and refused.reason == "inconsistent_steps"
    except InvalidInput:
        assert not accepted
    else:
        assert accepted


VALUES = [None, 1, 2.5, True, "x", [], [1, "a"]]


@pytest.mark.parametrize(
    "op", ["eq", "ne", "gt", "ge", "lt", "le", "in", "not_in", "exists", "missing"]
)
@pytest.mark.parametrize("value", [*VALUES, ABSENT])
@pytest.mark.parametrize("field", ["arguments.amount", "team", "amount", "arguments"])
def test_conditions_agree(op: str, value: Any, field: str) -> None:
    condition = {"field": field, "op": op} | ({} if value is ABSENT else {"value": value})
    document = {"materiality_rules": [{"level": "HIGH", "when": [condition]}]}
    try:
        refuse_non_facts(validate(Policy, document, None), source="p")
        accepted = True
    except InvalidInput:
        accepted = False
    assert VALIDATOR.is_valid(document) == accepted, condition


@pytest.mark.parametrize(
    ("step", "accepted"),
    [
        ({"policy_ref": {"id": "p"}}, True),
        ({"policy_ref": {"id": "p"}, "policy": {}}, True),
        ({"policy_ref": {"id": "p"}, "policy": {"description": "", "timeouts": {}}}, True),
        ({"policy_ref": {"id": "p"}, "policy": {"description": "x"}}, False),
        ({"policy_ref": {"id": "p"}, "policy": {"by_materiality": {"HIGH": {}}}}, False),
        ({"policy_ref": {"id": "p"}, "policy": {"requires_human_approval": True,
                                                "approvers": [{"role": "A"}]}}, False),
        ({"policy_ref": None, "policy": {"description": "x"}}, True),
    ],
)  # fmt: skip
def test_a_step_names_one_policy(step: dict[str, Any], accepted: bool) -> None:
    from gantral.policy.templates import WorkflowTemplate

    document = {"id": "w", "steps": [{"id": "a", **step}]}
    schema = jsonschema.Draft202012Validator(document_schema(WorkflowTemplate))
    assert schema.is_valid(document) == accepted
    try:
        validate(WorkflowTemplate, document, None)
    except Conflict as refused:  # steps that contradict each other: 409 inconsistent_steps
        assert not accepted and refused.reason == "inconsistent_steps"
    except InvalidInput:
        assert not accepted
    else:
        assert accepted

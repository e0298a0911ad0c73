"""Workflow templates: step graph, triggers, policy references, content hash."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gantral.domain.digest import sha256_hex
from gantral.errors import Conflict, InvalidInput
from gantral.policy.loading import validate
from gantral.policy.models import Policy
from gantral.policy.templates import PolicyRef, WorkflowTemplate


def template(**overrides: Any) -> WorkflowTemplate:
    body: dict[str, Any] = {
        "id": "deploy",
        "triggers": [{"source": "github", "event": "pull_request.opened", "match": {"repo": "x"}}],
        "steps": [
            {"id": "test"},
            {"id": "ship", "depends_on": ["build", "test"], "policy_ref": {"id": "prod"}},
            {"id": "build", "governed": False},
        ],
    }
    return WorkflowTemplate.model_validate(body | overrides)


def test_order_respects_dependencies_and_declaration() -> None:
    assert template().order() == ["test", "build", "ship"]


def test_policy_references() -> None:
    t = template()
    assert t.steps[1].needs_resolution and not t.steps[0].needs_resolution
    assert WorkflowTemplate.model_validate_json(t.model_dump_json()) == t
    assert t.policy_refs() == {"ship": PolicyRef(id="prod")}
    assert t.step("ship") is not None and t.step("nope") is None
    assert t.step("test") is not None and t.step("test").policy == Policy()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"id": "a"}, {"id": "a"}], "duplicate step ids: a"),
        ([{"id": "a", "depends_on": ["b"]}], "unknown step"),
        ([{"id": "a", "depends_on": ["a"]}], "unknown step"),
        (
            [{"id": "a", "depends_on": ["b"]}, {"id": "b", "depends_on": ["a"]}],
            "cycle",
        ),
        (
            [{"id": "a", "policy": {"materiality": "HIGH"}, "policy_ref": {"id": "p"}}],
            "either policy or policy_ref",
        ),
        (
            [
                {
                    "id": "a",
                    "policy": {"materiality": "HIGH"},
                    "policy_ref": {"id": "p", "version": 1, "content_hash": "sha256:" + "0" * 64},
                }
            ],
            "does not match",
        ),
    ],
)
def test_bad_graphs_are_refused(steps: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        template(steps=steps)


@pytest.mark.parametrize(
    "steps",
    [
        [{"id": "a"}, {"id": "a"}],
        [{"id": "a", "depends_on": ["b"]}],
        [{"id": "a", "depends_on": ["b"]}, {"id": "b", "depends_on": ["a"]}],
    ],
)
def test_steps_that_contradict_each_other_are_a_conflict(steps: list[dict[str, Any]]) -> None:
    """Each step is schema-valid; only their relation is not (the contract says 409)."""
    with pytest.raises(Conflict) as refused:
        validate(WorkflowTemplate, {"id": "t", "steps": steps}, None, source="workflow t")
    assert refused.value.reason == "inconsistent_steps"
    with pytest.raises(InvalidInput):  # a field problem stays a 422
        validate(WorkflowTemplate, {"id": "t", "steps": [{"id": ""}]}, None, source="t")


def test_a_pinned_hash_needs_a_version() -> None:
    with pytest.raises(ValidationError, match="give version too"):
        PolicyRef(id="p", content_hash="sha256:" + "0" * 64)


def test_content_hash_is_rfc8785_and_ignores_the_version() -> None:
    t = template()
    body = t.model_dump(mode="json", exclude={"version"})
    assert t.content_hash() == "sha256:" + sha256_hex(body)
    assert template(version=7).content_hash() == t.content_hash()
    assert template(description="changed").content_hash() != t.content_hash()


def test_policy_content_hash_changes_with_meaning() -> None:
    a = Policy.model_validate({"materiality": "HIGH"})
    assert a.content_hash() == Policy.model_validate({"materiality": "HIGH"}).content_hash()
    assert a.content_hash() != Policy().content_hash()
    assert a.content_hash().startswith("sha256:") and len(a.content_hash()) == 71

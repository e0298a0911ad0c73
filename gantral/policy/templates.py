"""Workflow templates: a versioned step graph with triggers and a policy per governed step.

A step either inlines its policy or references a stored one by id (and, to pin it in the
template itself, a version and content hash). References are resolved when an instance
starts, which pins exact versions and hashes for the instance's whole life.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from gantral.domain.digest import sha256_hex
from gantral.policy.levels import FieldError
from gantral.policy.models import Materiality, Policy
from gantral.policy.schema_rules import single_step_rules

_ID = r"^[A-Za-z0-9_.-]+$"
Scalar = str | int | float | bool


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyRef(_Frozen):
    """A stored policy: the latest version, or exactly `version` (and `content_hash`).

    A `content_hash` pins a version, so it needs `version` too."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"content_hash": {"type": "null"}}},
                {"required": ["version"], "properties": {"version": {"type": "integer"}}},
            ]
        }
    )

    id: str = Field(min_length=1, pattern=_ID)
    version: int | None = Field(default=None, ge=1)
    content_hash: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _hash_needs_version(self) -> PolicyRef:
        if self.content_hash is not None and self.version is None:
            raise ValueError("content_hash pins a version: give version too")
        return self


class ShadowPin(_Frozen):
    """A step's shadow policy as pinned when its instance started (`gantral.policy.shadow`):
    the exact reference and the policy, or, when it could not be resolved, why."""

    ref: PolicyRef
    policy: Policy | None = None
    error: str | None = None


class Trigger(_Frozen):
    """What starts an instance, e.g. source `github`, event `pull_request.opened`,
    match `{repository: acme/payments}`; or source `manual`."""

    source: str = Field(min_length=1, pattern=_ID)
    event: str | None = Field(default=None, min_length=1)
    match: dict[str, Scalar] = Field(default_factory=dict)
    description: str = ""


def _as_default(value: Any) -> dict[str, Any]:
    """A schema holding exactly `value` (objects: each member as its default or absent)."""
    if isinstance(value, dict) and value:  # an empty default (by_materiality) is const {}
        return {"type": "object", "properties": {k: _as_default(v) for k, v in value.items()}}
    return {"const": value}


def _one_policy_schema(schema: dict[str, Any]) -> None:
    # `_one_policy`, published where it can be: with a `policy_ref` and no content hash,
    # `policy` is absent or the empty policy (every member absent or its default).
    empty = Policy().model_dump(mode="json")
    for name, info in Policy.model_fields.items():
        empty.setdefault(name, info.get_default(call_default_factory=True))
    schema.setdefault("allOf", []).append(
        {"if": {"required": ["policy_ref"],
                "properties": {"policy_ref": {"type": "object",
                                              "properties": {"content_hash": {"type": "null"}}}}},
         "then": {"properties": {"policy": _as_default(empty)}}}
    )  # fmt: skip


class StepDefinition(_Frozen):
    """One step. Its policy is inlined (`policy`) or stored (`policy_ref`), not both; both
    only in the pinned form, where `policy` is exactly the version `policy_ref` names and
    its content hash is `policy_ref.content_hash` (refused otherwise, 422 naming
    `steps[i]`; the hash is not expressible in the schema)."""

    model_config = ConfigDict(json_schema_extra=_one_policy_schema)

    id: str = Field(min_length=1, pattern=_ID)
    description: str = ""
    # Governed steps need an authorize call (and whatever their policy demands).
    governed: StrictBool = True
    # Other steps of this template (by id), without a cycle: refused otherwise, naming it.
    depends_on: list[Annotated[str, Field(min_length=1, pattern=_ID)]] = Field(default_factory=list)
    policy: Policy = Policy()
    policy_ref: PolicyRef | None = None
    # A stored policy evaluated beside the enforced one on every authorize and only
    # recorded (SHADOW_EVALUATED; gantral.policy.shadow). Left out of the dump when
    # unset, so every template's content hash stays what it was.
    shadow: PolicyRef | None = Field(default=None, exclude_if=lambda v: v is None)

    @model_validator(mode="after")
    def _one_policy(self) -> StepDefinition:
        ref = self.policy_ref
        if ref is None or self.policy == _UNSET:
            return self
        # Both is the pinned form an instance starts with (registry.pin_template): the
        # reference names the exact version, and the inlined policy must be that version.
        if ref.content_hash is None:
            raise ValueError("give either policy or policy_ref, not both")
        if self.policy.content_hash() != ref.content_hash:
            raise PinMismatch("the inlined policy does not match policy_ref.content_hash")
        return self

    @property
    def needs_resolution(self) -> bool:
        """True while `policy_ref` is not resolved: `policy` is then only a placeholder and
        must not be evaluated. `registry.pin_template` resolves every step."""
        return self.policy_ref is not None and self.policy == _UNSET


_UNSET = Policy()


class PinMismatch(ValueError):
    """An inlined policy whose content hash is not the one its `policy_ref` pins: two valid
    fields that contradict each other (409 `policy_hash_mismatch`; no schema can hash)."""


class StepGraphError(FieldError):
    """The steps contradict each other (duplicate ids, a dependency on no step, a cycle):
    each part is schema-valid, only their relation is not, which JSON Schema cannot say.
    The API answers it 409 `inconsistent_steps` (gantral.policy.loading.validate)."""

    def __init__(self, message: str) -> None:
        super().__init__(("steps",), message)


class WorkflowTemplate(_Frozen):
    """A workflow template. Step ids are unique; each step's `depends_on` names other
    steps of the template, without a cycle (not expressible in the schema beyond a single
    step, which depends on nothing: refused naming the step)."""

    model_config = ConfigDict(json_schema_extra=single_step_rules)

    kind: Literal["gantral/workflow"] = "gantral/workflow"
    id: str = Field(min_length=1, pattern=_ID)
    # Assigned by the registry on PUT (N+1). A version in the body is a precondition.
    version: int = Field(default=1, ge=1)
    description: str = ""
    default_materiality: Materiality = Materiality.LOW
    triggers: list[Trigger] = Field(default_factory=list)
    steps: list[StepDefinition] = Field(min_length=1)

    @model_validator(mode="after")
    def _graph_is_sound(self) -> WorkflowTemplate:
        ids = [s.id for s in self.steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise StepGraphError(f"duplicate step ids: {', '.join(dupes)}")
        for s in self.steps:
            unknown = [d for d in s.depends_on if d not in ids or d == s.id]
            if unknown:
                raise StepGraphError(
                    f"step {s.id} depends on unknown step(s): {', '.join(unknown)}"
                )
        try:
            self.order()
        except CycleError as e:
            raise StepGraphError(f"steps depend on each other in a cycle: {e.args[1]}") from None
        return self

    def step(self, step_id: str) -> StepDefinition | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def order(self) -> list[str]:
        """Step ids in an order that respects `depends_on` (ties: as declared)."""
        sorter = TopologicalSorter({s.id: s.depends_on for s in self.steps})
        position = {s.id: i for i, s in enumerate(self.steps)}
        sorter.prepare()
        result: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=position.__getitem__)
            result.extend(ready)
            sorter.done(*ready)
        return result

    def policy_refs(self) -> dict[str, PolicyRef]:
        return {s.id: s.policy_ref for s in self.steps if s.policy_ref is not None}

    def content_hash(self) -> str:
        """sha256 of the RFC 8785 canonical JSON, version excluded: same content, same hash."""
        return "sha256:" + sha256_hex(self.model_dump(mode="json", exclude={"version"}))

"""Standing grants (issue 24): an approver's APPROVE that also lets later calls of the
same step through without a human, for a while and a number of uses. Pure.

A standing grant only narrows. Its pattern constrains every argument the approved request
carried (no field left free, no field the request did not have) and each constraint holds
the request's own value, never more: an exact value; a numeric range whose upper bound is
at most the approved number; a string prefix of the approved string; an enumeration of
values the approved value shows (itself, or items of an approved list, a later list
being inside when it is a subset). A later call
matches only if every argument it carries is constrained by the pattern and satisfies it.

Where grants live: they serve later instances of the agent (or of the team), so no single
instance's state can hold them. They are kept in a store the API reads (like halts,
`standing_store`); the API passes the one that matched into the workflow inside the signed
`authorize` call, and the workflow re-checks it and records `ALLOWED_BY_STANDING_GRANT`
with it, so a replay of the history reproduces the decision from the recorded fact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from gantral.domain.materiality import Materiality
from gantral.settings.durations import Duration

__all__ = [
    "ArgumentPattern",
    "StandingAsk",
    "StandingGrant",
    "StandingUse",
    "exact_pattern",
    "leaf_paths",
    "matches",
    "widening",
]

_PATH = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
_MISSING = object()
# Any JSON value but null (null means "not this kind of constraint").
_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "boolean"},
        {"type": "string"},
        {"type": "number"},
        {"type": "array"},
        {"type": "object", "additionalProperties": True},
    ]
}
_Json = Annotated[Any, WithJsonSchema(_JSON_SCHEMA)]
# `equals` may be null: not this kind of constraint, as if absent.
_JsonOrNull = Annotated[Any, WithJsonSchema({"anyOf": [*_JSON_SCHEMA["anyOf"], {"type": "null"}]})]


def _one_kind_schema(schema: dict[str, Any]) -> None:
    """The published schema says what `_one_kind` checks, so a client generated from it
    never sends a pattern the API refuses: one variant per kind, the others null or absent
    (a range needs `max`; `min` is optional)."""
    kinds: dict[str, dict[str, Any]] = {
        "equals": _JSON_SCHEMA, "max": {"type": "number"},
        "prefix": {"type": "string"}, "one_of": {"type": "array"},
    }  # fmt: skip
    variants = []
    for kind, named in kinds.items():
        others = [k for k in (*kinds, "min") if k != kind and not (kind == "max" and k == "min")]
        props = {kind: named, **{other: {"type": "null"} for other in others}}
        variants.append({"required": [kind], "properties": props})
    schema["oneOf"] = variants


class ArgumentPattern(BaseModel):
    """One argument's constraint: exactly one of `equals`, `range`(`min`/`max`), `prefix`,
    `one_of`."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_one_kind_schema)

    equals: _JsonOrNull = Field(default=None, exclude_if=lambda v: v is None)
    min: float | None = Field(default=None, exclude_if=lambda v: v is None)
    max: float | None = Field(default=None, exclude_if=lambda v: v is None)
    prefix: str | None = Field(default=None, min_length=1, exclude_if=lambda v: v is None)
    one_of: list[_Json] | None = Field(
        default=None, min_length=1, max_length=100, exclude_if=lambda v: v is None
    )

    @model_validator(mode="after")
    def _one_kind(self) -> ArgumentPattern:
        kinds = [
            self.equals is not None,
            self.min is not None or self.max is not None,
            self.prefix is not None,
            self.one_of is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of equals, min/max, prefix or one_of")
        if (self.min is not None or self.max is not None) and self.max is None:
            raise ValueError("a range needs max: an open upper bound would widen")
        # min above max is no error here: such a range holds no value, so the approved
        # one is outside it and `wider_than` refuses the grant.
        return self

    def holds(self, value: Any) -> bool:
        """Whether `value` satisfies this constraint."""
        if self.equals is not None:
            return _same(value, self.equals)
        if self.prefix is not None:
            return isinstance(value, str) and value.startswith(self.prefix)
        if self.one_of is not None:
            # A list is inside when every item is one of the values (a subset).
            items = value if isinstance(value, list) and value else [value]
            return all(any(_same(i, v) for v in self.one_of) for i in items)
        if not _number(value):
            return False
        assert self.max is not None
        return bool((self.min is None or value >= self.min) and value <= self.max)

    def wider_than(self, approved: Any) -> str | None:
        """Why this constraint would allow more than the approved value does, if it would."""
        if not self.holds(approved):
            return "does not hold the approved value"
        if self.max is not None and not (_number(approved) and self.max <= approved):
            return f"its max {self.max} is above the approved {approved}"
        if self.one_of is not None:
            shown = approved if isinstance(approved, list) else [approved]
            extra = [v for v in self.one_of if not any(_same(v, s) for s in shown)]
            if extra:
                return f"lists values the request did not show: {extra}"
        return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    # JSON equality: True is not 1.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _at(arguments: dict[str, Any], path: str) -> Any:
    value: Any = arguments
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def leaf_paths(arguments: dict[str, Any], prefix: str = "") -> list[str]:
    """Every path to a non-object value (a list is one value)."""
    paths: list[str] = []
    for key, value in arguments.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths.extend(leaf_paths(value, path + "."))
        else:
            paths.append(path)
    return paths


def exact_pattern(arguments: dict[str, Any], prefix: str = "") -> dict[str, ArgumentPattern]:
    """A pattern pinning every argument to exactly its value, the narrowest there is: what
    a channel asks for, where the human sees the arguments but writes no pattern.

    Raises ValueError for a null argument: no constraint holds exactly null (an `equals`
    of null is no constraint, and `one_of: [null]` also admits a list of nulls)."""
    pattern: dict[str, ArgumentPattern] = {}
    for key, value in arguments.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            pattern.update(exact_pattern(value, path + "."))
        elif value is None:
            raise ValueError(f"{path} is null, which no pattern pins exactly")
        else:
            pattern[path] = ArgumentPattern(equals=value)
    return pattern


def _covered(leaf: str, pattern: dict[str, ArgumentPattern]) -> bool:
    return any(leaf == p or leaf.startswith(p + ".") for p in pattern)


def widening(pattern: dict[str, ArgumentPattern], arguments: dict[str, Any]) -> str | None:
    """Why `pattern` would grant more than the approved `arguments`, if it would."""
    for path, constraint in pattern.items():
        approved = _at(arguments, path)
        if approved is _MISSING:
            return f"{path}: the request has no such argument"
        why = constraint.wider_than(approved)
        if why is not None:
            return f"{path}: {why}"
    free = [leaf for leaf in leaf_paths(arguments) if not _covered(leaf, pattern)]
    if free:
        return f"arguments left unconstrained: {', '.join(free)}"
    return None


def matches(pattern: dict[str, ArgumentPattern], arguments: dict[str, Any]) -> bool:
    """Whether a later call's `arguments` fall inside `pattern`."""
    if any(not _covered(leaf, pattern) for leaf in leaf_paths(arguments)):
        return False
    return all(
        (value := _at(arguments, path)) is not _MISSING and c.holds(value)
        for path, c in pattern.items()
    )


class StandingAsk(BaseModel):
    """What an approver asks for with an APPROVE: the pattern, how long, how many uses,
    and whom it serves (the requesting agent, or every agent of the owning team)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Keys are argument paths (`amount`, `target.region`), declared for generated clients.
    pattern: dict[str, ArgumentPattern] = Field(
        max_length=50, json_schema_extra={"propertyNames": {"pattern": _PATH}}
    )
    ttl: Duration
    max_uses: int = Field(ge=1, le=10_000)
    serves: Literal["agent", "team"] = "agent"

    @model_validator(mode="after")
    def _paths(self) -> StandingAsk:
        import re

        bad = [p for p in self.pattern if not re.match(_PATH, p)]
        if bad:
            raise ValueError(f"not argument paths: {bad}")
        if self.ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        return self


class StandingGrant(BaseModel):
    """A standing grant as recorded (`STANDING_GRANT_GIVEN`), stored and listed."""

    model_config = ConfigDict(frozen=True)

    standing_id: str
    team: str
    workflow_id: str
    step_id: str
    action: str
    pattern: dict[str, ArgumentPattern]
    # None: any agent of `team`.
    agent: str | None
    approver: str
    approver_role: str
    instance_id: str
    request_id: str
    # The approved request's materiality: a later call that is more material is not served.
    materiality: Materiality
    given_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int = 0
    revoked_by: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at and self.uses < self.max_uses

    def serves(self, team: str, workflow_id: str, step_id: str, action: str, agent: str) -> bool:
        return (
            self.team == team
            and self.workflow_id == workflow_id
            and self.step_id == step_id
            and self.action == action
            and (self.agent is None or self.agent == agent)
        )


class StandingUse(BaseModel):
    """The fact the API passes into `authorize`: a use of a standing grant it claimed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    standing_id: str
    approver: str
    approver_role: str
    pattern: dict[str, ArgumentPattern]
    materiality: Materiality
    expires_at: datetime
    use: int = Field(ge=1)
    max_uses: int = Field(ge=1)

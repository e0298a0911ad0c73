"""Declarative conditions over a step's facts, and the materiality rules built from them.

A condition names a fact (dotted path), an operator and a value:
`{field: arguments.amount, op: gt, value: 10000}`. There is deliberately no expression
language: policy files stay data (reference invariant 5), and every condition can be
explained in one line. Which facts exist is `gantral.policy.facts`.

Evaluation fails closed. A condition is true, false or *unreadable*: its field is
missing, is not a fact a policy may read, or holds a value of another type than the
condition compares with (`"20000"` against `gt 10000`, `1` against `eq production`).
`true` never equals `1`. Only `exists` and `missing` are about absence, so they read a
missing field as an answer. A rule is false as soon as one of its conditions is false
(whatever the others hold), else unreadable if one is unreadable; an unreadable rule
puts the step at the policy's highest level (`evaluate.classify`), never at the floor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gantral.policy.facts import FACT_PATTERN, field_problem
from gantral.policy.materiality import Materiality

Scalar = str | int | float | bool | None
_MISSING = object()


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    IN = "in"
    NOT_IN = "not_in"
    EXISTS = "exists"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Why a condition cannot be decided: e.g. `arguments.amount` `is a string, not a number`."""

    field: str
    why: str

    def __str__(self) -> str:
        return f"{self.field} {self.why}"


# What a condition (or a rule) says about one step's facts.
Outcome = bool | Unreadable
Check = Callable[[Mapping[str, Any]], Outcome]

_ORDERING = {Op.GT, Op.GE, Op.LT, Op.LE}
_SYMBOL = {Op.EQ: "==", Op.NE: "!=", Op.GT: ">", Op.GE: ">=", Op.LT: "<", Op.LE: "<="}


def _value_fits_op_schema(schema: dict[str, Any]) -> None:
    # `_value_fits_op`, published: which value each operator takes.
    takes = {
        **{op.value: {"type": "number"} for op in sorted(_ORDERING)},
        Op.IN.value: {"type": "array"},
        Op.NOT_IN.value: {"type": "array"},
        Op.EQ.value: {"not": {"type": "array"}},
        Op.NE.value: {"not": {"type": "array"}},
        Op.EXISTS.value: {"type": "null"},
        Op.MISSING.value: {"type": "null"},
    }
    needed = {Op.EXISTS.value, Op.MISSING.value, Op.EQ.value, Op.NE.value}
    schema["allOf"] = [
        {"if": {"required": ["op"], "properties": {"op": {"const": op}}},
         "then": {"properties": {"value": value}} if op in needed
         else {"required": ["value"], "properties": {"value": value}}}
        for op, value in takes.items()
    ]  # fmt: skip


class Condition(BaseModel):
    """One comparison against the step context, e.g. `amount > 10000`. A published rule
    reads facts only: `arguments.<path>`, `trigger.<path>`, `team` or `workflow` (a policy
    pinned before that rule may hold another field, which then never matches)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_value_fits_op_schema)

    field: str = Field(
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        # What publication accepts (`refuse_non_facts`); decoding keeps the wider pattern.
        json_schema_extra={"pattern": FACT_PATTERN},
    )
    op: Op
    value: Scalar | list[Scalar] = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        v = self.value
        if self.op in _ORDERING and not _is_number(v):
            raise ValueError(f"op {self.op} needs a number as value")
        if self.op in (Op.IN, Op.NOT_IN) and not isinstance(v, list):
            raise ValueError(f"op {self.op} needs a list as value")
        if self.op in (Op.EQ, Op.NE) and isinstance(v, list):
            raise ValueError(f"op {self.op} needs a single value, not a list")
        if self.op in (Op.EXISTS, Op.MISSING) and v is not None:
            raise ValueError(f"op {self.op} takes no value")
        return self

    def describe(self) -> str:
        if self.op in (Op.EXISTS, Op.MISSING):
            return f"{self.field} {self.op}"
        symbol = _SYMBOL.get(self.op, self.op.value.replace("_", " "))
        return f"{self.field} {symbol} {_show(self.value)}"

    def compile(self) -> Check:
        """A check equivalent to this condition, with the path and operator bound once."""
        field, op, expected = self.field, self.op, self.value
        path = tuple(field.split("."))
        problem = field_problem(field)
        if problem is not None:
            # Refused at publication; a policy pinned before that rule can still hold it.
            unreadable = Unreadable(field, problem)
            return lambda facts: unreadable
        if op in (Op.EXISTS, Op.MISSING):
            present = op is Op.EXISTS
            return lambda facts: (lookup(facts, path) is not _MISSING) is present
        if op in _ORDERING:
            bound: float = expected if isinstance(expected, int | float) else 0
            compare = _ORDER_FUNCS[op]

            def ordered(facts: Mapping[str, Any]) -> Outcome:
                actual = lookup(facts, path)
                return _typed(field, actual, ("number",)) or compare(actual, bound)

            return ordered
        options = tuple(expected) if isinstance(expected, list) else (expected,)
        kinds = tuple(dict.fromkeys(kind_of(o) for o in options))
        wanted = op in (Op.EQ, Op.IN)

        def check(facts: Mapping[str, Any]) -> Outcome:
            actual = lookup(facts, path)
            return _typed(field, actual, kinds) or (any(same(actual, o) for o in options) is wanted)

        return check


def _typed(field: str, actual: Any, kinds: tuple[str, ...]) -> Unreadable | None:
    """None when `actual` is present and of one of `kinds`, else why it cannot be compared."""
    if actual is _MISSING:
        return Unreadable(field, "is missing")
    kind = kind_of(actual)
    if kind in kinds:
        return None
    return Unreadable(field, f"is {_article(kind)}, not {' or '.join(_article(k) for k in kinds)}")


def kind_of(value: object) -> str:
    """The JSON type a comparison sees (bool is not a number here)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list | tuple) else "object"


def _article(kind: str) -> str:
    return kind if kind == "null" else ("an " if kind[0] in "aeio" else "a ") + kind


class MaterialityRule(BaseModel):
    """`level` applies when every condition in `when` holds. The highest matching level wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1)
    level: Materiality
    when: list[Condition] = Field(min_length=1)

    def label(self, index: int) -> str:
        return self.name or f"materiality_rules[{index}]"


def lookup(context: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = context
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def same(actual: Any, expected: Any) -> bool:
    # bool is an int in Python; in a policy `true` and `1` are different things.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if _is_number(actual) and _is_number(expected):
        return bool(actual == expected)
    return type(actual) is type(expected) and bool(actual == expected)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_ORDER_FUNCS: dict[Op, Callable[[float, float], bool]] = {
    Op.GT: lambda a, b: a > b,
    Op.GE: lambda a, b: a >= b,
    Op.LT: lambda a, b: a < b,
    Op.LE: lambda a, b: a <= b,
}


def _show(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return str(value)

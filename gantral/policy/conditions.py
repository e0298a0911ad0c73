"""Declarative conditions over a step context, and the materiality rules built from them.

A condition names a field of the context (dotted path), an operator and a value:
`{field: amount, op: gt, value: 10000}`. There is deliberately no expression
language: policy files stay data (reference invariant 5), and every condition can be
explained in one line.

Comparison is type-aware so a policy means the same thing whatever the agent sends:
`true` never equals `1`, numbers compare only with numbers, and a missing field or a
value of the wrong type makes an ordering comparison false. Authors who want a missing
field to be material say so with `op: missing`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


_ORDERING = {Op.GT, Op.GE, Op.LT, Op.LE}
_SYMBOL = {Op.EQ: "==", Op.NE: "!=", Op.GT: ">", Op.GE: ">=", Op.LT: "<", Op.LE: "<="}


class Condition(BaseModel):
    """One comparison against the step context, e.g. `amount > 10000`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
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

    def compile(self) -> Callable[[Mapping[str, Any]], bool]:
        """A predicate equivalent to this condition, with the path and operator bound once."""
        path = tuple(self.field.split("."))
        op, expected = self.op, self.value
        if op is Op.EXISTS:
            return lambda ctx: lookup(ctx, path) is not _MISSING
        if op is Op.MISSING:
            return lambda ctx: lookup(ctx, path) is _MISSING
        if op is Op.EQ:
            return lambda ctx: same(lookup(ctx, path), expected)
        if op is Op.NE:
            return lambda ctx: not same(lookup(ctx, path), expected)
        if op in (Op.IN, Op.NOT_IN):
            options = tuple(expected) if isinstance(expected, list) else ()
            wanted = op is Op.IN
            return lambda ctx: any(same(lookup(ctx, path), o) for o in options) is wanted
        bound: float = expected if isinstance(expected, int | float) else 0
        compare: Callable[[float, float], bool] = _ORDER_FUNCS[op]
        return lambda ctx: _ordered(lookup(ctx, path), bound, compare)


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


def _ordered(actual: Any, bound: float, compare: Callable[[float, float], bool]) -> bool:
    return _is_number(actual) and compare(actual, bound)


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

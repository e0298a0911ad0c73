"""I-JSON (RFC 7493) and depth checks on already-decoded JSON values.

Pure: standard library only and no I/O, because the Temporal workflow sandbox imports it
(Update validators) as well as the HTTP edge. Anything the audit sink's canonical encoder
would refuse must be refused here first, so it never reaches an outbox.

The walk is iterative (an explicit stack), so a 10,000-deep input costs a bounded amount of
work and never touches the interpreter's recursion limit: it stops at the first container
deeper than ``max_depth``.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "Violation", "find_violation", "ijson_problem"]

MAX_DEPTH: int = 32
"""Deepest nesting of objects and arrays accepted; the top-level value is depth 0."""

MAX_SAFE_INTEGER: int = 2**53 - 1
"""RFC 7493 §2.2: integers outside ±(2**53-1) are not exactly representable everywhere; a
number of larger magnitude written as a float (`3.4e16`, `1e300`) is refused too."""

_PLAIN_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class Violation(NamedTuple):
    """The first problem found: its reason, the JSON path it is at, and what is wrong."""

    reason: Literal["not_i_json", "too_deep"]  # as `gantral.errors.Reason` spells them
    path: str
    problem: str

    @property
    def message(self) -> str:
        return f"{self.path}: {self.problem}"


def ijson_problem(
    value: object, path: str = "$", max_depth: int = MAX_DEPTH
) -> tuple[str, str] | None:
    """Return the first reason ``value`` is not acceptable I-JSON, or None if it is.

    Args:
        value: decoded JSON (dict, list, str, int, float, bool or None).
        path: JSON path of ``value`` itself, used as the prefix in messages.
        max_depth: deepest container nesting accepted (``value`` is at depth 0).

    Returns:
        None, or ``(reason, message)`` where reason is ``"not_i_json"`` or ``"too_deep"``
        and the message names the JSON path of the first problem found.
    """
    violation = find_violation(value, path, max_depth)
    return None if violation is None else (violation.reason, violation.message)


def find_violation(value: object, path: str = "$", max_depth: int = MAX_DEPTH) -> Violation | None:
    """Like `ijson_problem`, with the path apart from the message (for error details)."""
    stack: list[tuple[object, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return Violation("not_i_json", where, "integer outside the I-JSON range ±(2**53-1)")
        if isinstance(item, float):
            if not math.isfinite(item):
                return Violation("not_i_json", where, "NaN and Infinity are not JSON numbers")
            # Every double beyond 2**53 is integral, so JSON Schema (and the published
            # contract) counts it as an integer: bounded like one, whatever its spelling.
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return Violation("not_i_json", where, "number outside the I-JSON range ±(2**53-1)")
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                return Violation("not_i_json", where, "string holds a lone surrogate")
            continue
        if isinstance(item, (dict, list)):
            if depth >= max_depth:
                return Violation("too_deep", where, f"nesting deeper than {max_depth} levels")
            children = _children(item, where)
            if isinstance(children, Violation):
                return children
            # Reversed so the first member is checked first: the message names the
            # first problem in document order.
            stack.extend((child, child_path, depth + 1) for child, child_path in reversed(children))
            continue
        return Violation("not_i_json", where, f"{type(item).__name__} is not a JSON value")
    return None


def _children(
    item: dict[object, object] | list[object], where: str
) -> list[tuple[object, str]] | Violation:
    if isinstance(item, list):
        return [(child, f"{where}[{index}]") for index, child in enumerate(item)]
    members: list[tuple[object, str]] = []
    for key, child in item.items():
        if not isinstance(key, str):
            return Violation("not_i_json", where, f"object key {key!r} is not a string")
        if _has_lone_surrogate(key):
            return Violation("not_i_json", where, "object key holds a lone surrogate")
        members.append((child, _member_path(where, key)))
    return members


def _member_path(where: str, key: str) -> str:
    if key and not key[0].isdigit() and all(char in _PLAIN_KEY for char in key):
        return f"{where}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{where}['{escaped}']"


def _has_lone_surrogate(text: str) -> bool:
    # json.loads turns "\ud800" into a real lone surrogate code point; a valid pair
    # ("\ud83d\ude00") is decoded into one astral character, so any surrogate left in
    # a decoded str is unpaired.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False

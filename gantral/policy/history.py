"""History-aware facts: counts and sums over the instance's own authorizations.

A rule may read, besides the step's own facts (`gantral.policy.facts`):

    history.<step>.<ALLOW|PENDING>.count         authorize calls at <step> with that outcome
    history.<step>.<ALLOW|PENDING>.sum.<path>    the sum of arguments.<path> over them

e.g. `{field: history.refund.ALLOW.count, op: gt, value: 3}` or
`{field: history.refund.ALLOW.sum.amount, op: gt, value: 10000}`. The outcome is the one
each earlier authorize answered (the call being decided is not counted yet). The totals
are kept in the instance's state (`InstanceData.history`) and updated by the workflow
itself after each authorize, so a replay computes the same facts; a step or outcome that
never happened reads 0, never missing. Only sums some pinned policy reads are kept, so
the state stays small whatever the arguments hold. Step ids holding a dot cannot be named.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from gantral.policy.conditions import lookup
from gantral.policy.facts import OUTCOMES, history_problem
from gantral.policy.models import Policy

__all__ = ["OUTCOMES", "history_facts", "history_problem", "record", "tracked_sums", "uses_history"]

_SEP = "|"


def _fields(policies: Iterable[Policy]) -> list[str]:
    return [
        c.field
        for p in policies
        for rule in p.materiality_rules
        for c in rule.when
        if c.field.startswith("history.")
    ]


def uses_history(policies: Iterable[Policy]) -> bool:
    return bool(_fields(policies))


def tracked_sums(policies: Iterable[Policy]) -> list[str]:
    """The argument paths whose sums some policy reads, sorted."""
    out = set()
    for field in _fields(policies):
        parts = field.split(".")
        if len(parts) > 4 and parts[3] == "sum":
            out.add(".".join(parts[4:]))
    return sorted(out)


def record(
    totals: dict[str, int | float],
    step_id: str,
    outcome: str,
    arguments: Mapping[str, Any],
    sums: list[str],
) -> None:
    """Count one authorize at `step_id` answered `outcome`, adding its tracked arguments
    (numbers only: anything else adds nothing)."""
    key = _SEP.join((step_id, outcome))
    totals[f"{key}{_SEP}count"] = totals.get(f"{key}{_SEP}count", 0) + 1
    for path in sums:
        value = lookup(arguments, tuple(path.split(".")))
        if isinstance(value, int | float) and not isinstance(value, bool):
            name = f"{key}{_SEP}sum{_SEP}{path}"
            total = totals.get(name, 0) + value
            # A float sum that overflows would make the state unserializable: it saturates.
            finite = not isinstance(total, float) or math.isfinite(total)
            totals[name] = total if finite else sys.float_info.max


def history_facts(
    totals: Mapping[str, int | float], steps: Iterable[str], sums: list[str]
) -> dict[str, Any]:
    """The `history` fact: every step and outcome, counts and tracked sums, 0 when none."""
    facts: dict[str, Any] = {}
    for step in steps:
        for outcome in OUTCOMES:
            key = _SEP.join((step, outcome))
            summed: dict[str, Any] = {}
            for path in sums:
                node = summed
                *parents, leaf = path.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = totals.get(f"{key}{_SEP}sum{_SEP}{path}", 0)
            count = totals.get(f"{key}{_SEP}count", 0)
            facts.setdefault(step, {})[outcome] = {"count": count, "sum": summed}
    return facts

"""The one verdict of a verification, and its summary for people.

VALID: every check ran and held. INVALID: something checked is broken (tampering, or a
signature or cosignature that does not verify). INCONCLUSIVE: nothing checked is broken,
but some check could not run (no key to check signatures with, object storage skipped,
fewer witness cosignatures than required, a witness not reachable): never reported as
valid. A broken instance usually breaks at every later event; the summary gives one
line per instance (how many problems of which kind, and the first) so the cause is read
in seconds, and `--verbose` lists them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from enum import StrEnum

from gantral.audit.verify import Problem

__all__ = ["EXIT_CODES", "Verdict", "summarize", "verdict_of"]


class Verdict(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    INCONCLUSIVE = "INCONCLUSIVE"


EXIT_CODES = {Verdict.VALID: 0, Verdict.INVALID: 1, Verdict.INCONCLUSIVE: 3}
"""2 stays the exit status of a usage or connection error."""


def verdict_of(problems: Sequence[Problem], not_checked: Sequence[str]) -> Verdict:
    if problems:
        return Verdict.INVALID
    return Verdict.INCONCLUSIVE if not_checked else Verdict.VALID


def summarize(problems: Sequence[Problem], *, verbose: bool = False) -> list[str]:
    """Lines describing `problems`: each one when `verbose`, else one per instance (and
    one for the log as a whole)."""
    if verbose:
        return [f"FAIL {problem}" for problem in problems]
    groups: dict[str | None, list[Problem]] = {}
    for problem in problems:
        groups.setdefault(problem.instance_id, []).append(problem)
    lines = []
    for group in groups.values():
        line = f"FAIL {group[0]}"
        if len(group) > 1:
            kinds = ", ".join(f"{c} {n}" for c, n in Counter(p.code for p in group).items())
            line += f" (and {len(group) - 1} more problem(s) here: {kinds})"
        lines.append(line)
    if len(lines) < len(problems):
        lines.append("(--verbose lists every problem)")
    return lines

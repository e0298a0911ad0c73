"""Publication-time check that every materiality rule reads only facts (see `facts`).

Kept out of the pydantic models on purpose: a policy pinned in a running instance's
start input is decoded with those models, and one pinned before this check existed must
still decode (evaluation then finds the field unreadable and fails closed).
"""

from __future__ import annotations

from gantral.policy.facts import TRUST_BOUNDARY, field_problem
from gantral.policy.models import Policy
from gantral.policy.templates import WorkflowTemplate

Loc = tuple[str | int, ...]

__all__ = ["Loc", "non_fact_fields"]


def non_fact_fields(doc: Policy | WorkflowTemplate) -> list[tuple[Loc, str]]:
    """(location in the document, message) for every condition on a field that is not a fact."""
    if isinstance(doc, Policy):
        return _in_policy(doc, ())
    problems: list[tuple[Loc, str]] = []
    for i, step in enumerate(doc.steps):
        if not step.needs_resolution:  # a referenced policy was checked when it was stored
            problems.extend(_in_policy(step.policy, ("steps", i, "policy")))
    return problems


def _in_policy(policy: Policy, prefix: Loc) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    for i, rule in enumerate(policy.materiality_rules):
        for j, condition in enumerate(rule.when):
            problem = field_problem(condition.field)
            if problem is not None:
                loc = (*prefix, "materiality_rules", i, "when", j, "field")
                problems.append((loc, f"{condition.field} {problem}: {TRUST_BOUNDARY}"))
    return problems

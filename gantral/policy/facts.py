"""What a policy rule may read: only facts the grant binds or the instance fixed at start.

Free-form step context is agent-asserted and unbound by the grant's digest, so it is for
humans to read and never decides materiality (issue 10, item 5):

    arguments   the step's arguments (bound by the grant's args_digest)
    trigger     the instance's trigger context (fixed when the instance started)
    team        the owning team id
    workflow    the workflow template id
    history     counts and sums over the instance's own earlier authorizations
                (`gantral.policy.history`), kept by the workflow, so replay reproduces them

Publication refuses a rule on any other field (`field_problem`); a policy pinned before
that check can still name one, and evaluation then finds it unreadable (fail closed).
"""

from __future__ import annotations

from typing import Any

FACT_ROOTS = ("arguments", "trigger", "team", "workflow")
# Objects: a rule names a field inside them. Ids: a rule compares the whole string.
_OBJECTS = ("arguments", "trigger")
_IDS = ("team", "workflow")

TRUST_BOUNDARY = (
    "rules read only arguments.* (bound by the grant), trigger.* (the trigger context, "
    "fixed when the instance started), team, workflow and history.* (the instance's own "
    "earlier authorizations); a step's free-form context is "
    "asserted by the agent and bound by nothing, so it is for humans to read"
)


def step_facts(
    *,
    arguments: dict[str, Any],
    trigger_context: dict[str, Any],
    owning_team_id: str,
    workflow_id: str,
) -> dict[str, Any]:
    return {
        "arguments": arguments,
        "trigger": trigger_context,
        "team": owning_team_id,
        "workflow": workflow_id,
    }


def given_facts(
    *,
    arguments: dict[str, Any],
    trigger: dict[str, Any],
    team: str | None = None,
    workflow: str | None = None,
) -> dict[str, Any]:
    """Facts for a dry run: an id left out is missing, as a rule reading it will say."""
    facts: dict[str, Any] = {"arguments": arguments, "trigger": trigger}
    facts.update({k: v for k, v in (("team", team), ("workflow", workflow)) if v is not None})
    return facts


FACT_PATTERN = (
    r"^(?:(?:arguments|trigger)(?:\.[A-Za-z0-9_-]+)+|team|workflow"
    r"|history\.[A-Za-z0-9_-]+\.(?:ALLOW|PENDING)\.(?:count|sum(?:\.[A-Za-z0-9_-]+)+))$"
)
"""Every field `field_problem` accepts, as a JSON Schema pattern."""


# The outcomes a history fact counts (gantral.policy.history keeps the totals).
OUTCOMES = ("ALLOW", "PENDING")


def history_problem(rest: str) -> str | None:
    """Why `history.<rest>` is not a history fact, or None when it is one."""
    parts = rest.split(".") if rest else []
    if len(parts) < 3 or parts[1] not in OUTCOMES:
        return "names history.<step>.<ALLOW|PENDING>.count or .sum.<argument path>"
    if parts[2] == "count" and len(parts) == 3:
        return None
    if parts[2] == "sum" and len(parts) > 3:
        return None
    return "names history.<step>.<ALLOW|PENDING>.count or .sum.<argument path>"


def field_problem(field: str) -> str | None:
    """Why a rule may not read `field` (a dotted path), or None when it may."""
    root, _, rest = field.partition(".")
    if root in _OBJECTS:
        return None if rest else f"is an object: name a field inside it ({root}.<name>)"
    if root in _IDS:
        return None if not rest else f"has no fields: {root} is an id, compare it whole"
    if root == "history":
        return history_problem(rest)
    return "is not a fact a policy may read"

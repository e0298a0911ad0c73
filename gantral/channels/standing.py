"""A standing grant asked for from a channel (Slack, Jira): an APPROVE whose pattern pins
every argument exactly as the human was shown it, for a TTL, a number of uses, and the
requesting agent or every agent of the team.

Channels translate only (invariant 6): the bounds offered come from the step's pinned
policy, and the core judges the ask as it judges one sent to the API (the policy's
`standing` bounds and roles, CRITICAL never, a single approver, the pattern only
narrowing, the digest shown).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import ValidationError

from gantral.domain.materiality import Materiality
from gantral.domain.records import HumanRequest
from gantral.errors import InvalidInput, Reason
from gantral.governance.standing import StandingAsk, exact_pattern
from gantral.policy.models import Policy, Standing
from gantral.settings.durations import format_duration

__all__ = ["Serves", "bounds_text", "offered", "pinned_ask"]

Serves = Literal["agent", "team"]


def offered(policy: Policy | None, request: HumanRequest) -> Standing | None:
    """The bounds a channel offers a standing grant within, or None where the step's
    policy allows none (no `standing`, or the request is CRITICAL)."""
    if policy is None or policy.standing is None:
        return None
    if request.materiality is Materiality.CRITICAL:
        return None
    return policy.standing


def bounds_text(bounds: Standing) -> str:
    """ "at most 1h and 50 uses, given as TECH_LEAD" """
    return (
        f"at most {format_duration(bounds.max_ttl)} and {bounds.max_uses} uses, "
        f"given as {' or '.join(bounds.roles)}"
    )


def pinned_ask(
    arguments: dict[str, Any], ttl: str | timedelta, max_uses: int, serves: str
) -> StandingAsk:
    """The ask for `arguments` pinned exactly; InvalidInput when it cannot be said (an
    argument that is null or whose name is no argument path, a malformed TTL)."""
    try:
        pattern = exact_pattern(arguments)
        return StandingAsk.model_validate(
            {"pattern": pattern, "ttl": ttl, "max_uses": max_uses, "serves": serves}
        )
    except (ValueError, ValidationError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else None
        why = "; ".join(str(e["msg"]) for e in errors) if errors else str(exc)
        raise InvalidInput(
            f"no standing grant can be asked for here: {why}", reason=Reason.INVALID_INPUT
        ) from None

"""A standing grant asked for from a channel (Slack, Jira): an APPROVE whose pattern pins
every argument exactly as the human was shown it, for a TTL, a number of uses, and the
requesting agent or every agent of the team.

Channels translate only (invariant 6): the bounds offered come from the step's pinned
policy, and the core judges the ask as it judges one sent to the API (the policy's
`standing` bounds and roles, CRITICAL never, a single approver, the pattern only
narrowing, the digest shown).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import ValidationError

from gantral.domain.materiality import Materiality
from gantral.domain.records import HumanRequest
from gantral.errors import InvalidInput, Reason
from gantral.governance.standing import StandingAsk, exact_pattern
from gantral.policy.compiled import compiled
from gantral.policy.models import Policy, Standing
from gantral.policy.quorum import progress, roles_in
from gantral.settings.durations import format_duration

__all__ = ["Serves", "bounds_text", "needs_several", "offered", "pinned_ask", "typed_uses"]

Serves = Literal["agent", "team"]

# Digits as people type them: `str.isdigit` also takes `²`, which `int` refuses, and `int`
# also reads `1_000` and ` 5`; few enough that `int` reads them (the core bounds the most).
_USES = re.compile(r"[0-9]{1,9}")


def typed_uses(text: str) -> int | None:
    """The number of uses a human typed, or None when it is not plain digits."""
    return int(text) if _USES.fullmatch(text) else None


def offered(policy: Policy | None, request: HumanRequest) -> Standing | None:
    """The bounds a channel offers a standing grant within, or None where the step's
    policy allows none (no `standing`, or the request is CRITICAL) or the request needs
    more than one approver (`needs_several`)."""
    if policy is None or policy.standing is None:
        return None
    if request.materiality is Materiality.CRITICAL or needs_several(policy, request):
        return None
    return policy.standing


def needs_several(policy: Policy, request: HumanRequest) -> bool:
    """Whether no one human, approving in a role the policy lets give standing grants,
    could settle the request's tier alone: the core then refuses the ask
    (`standing_needs_sole_approver`), so a channel does not offer it. Read from the
    step's policy at the request's materiality (a follow-up an override asked for may
    need fewer: the channel then offers less, never more)."""
    if policy.standing is None:
        return False
    plan = compiled(policy).plans.get(request.materiality)
    if plan is None or not plan.tiers:
        return False  # nothing known: the core judges
    rule = plan.tiers[min(request.tier, len(plan.tiers) - 1)].approvers
    # Only roles that count in the tier: one that does not is the core's to refuse (and
    # to say so: `standing_role_not_allowed`).
    counting = [r for r in policy.standing.roles if r in roles_in(rule)]
    return bool(counting) and all(progress(rule, {"": r}).still_needed for r in counting)


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

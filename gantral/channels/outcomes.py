"""What settled a request, who did it and when, in words a human reads (pure).

Every channel says it the same way: the Slack message and its ephemeral replies, Jira
comments, the refusal of a late decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from gantral.domain.records import Decision, HumanRequest, RequestStatus

__all__ = ["settled_text", "what_happened"]


def _at(when: datetime | None) -> str:
    return f" at {when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if when is not None else ""


_SUPERSEDED_WHY = {
    "reauthorized": "the agent asked again with new arguments",
    "override needs more authority": "an override changed the arguments, which need more authority",
    "second sign-off": "an override needs a second sign-off",
}


def what_happened(request: HumanRequest, decisions: Sequence[Decision] = ()) -> str:
    """What settled `request`, who did it and when, from the instance's own record:
    "APPROVED by alice via cli at ...", "SUPERSEDED: the agent asked again with new
    arguments at ... (now request req_2)". `decisions` (the instance's) name who
    overrode when the override itself became a new request."""
    by = next((d for d in reversed(decisions) if d.request_id == request.request_id), None)
    # Until the outcome is applied (`resolved_at`), the deciding decision says when.
    at = _at(request.resolved_at or (by.at if by is not None else None))
    if request.status is RequestStatus.SUPERSEDED:
        why = _SUPERSEDED_WHY.get(request.superseded_why or "", "a newer request replaced it")
        if by is not None and request.superseded_why != "reauthorized":
            why += f" (override by {by.human_actor_id} via {by.channel})"
        now = f" (now request {request.superseded_by})" if request.superseded_by else ""
        return f"SUPERSEDED: {why}{at}{now}"
    if request.status is RequestStatus.CANCELLED:
        return f"CANCELLED: the instance ended before a decision{at}"
    if request.decided_via == "timeout":
        return f"{request.status} on timeout: no decision before the deadline{at}"
    if request.decided_by is None:
        return f"{request.status}{at}"
    return f"{request.status} by {request.decided_by} via {request.decided_via}{at}"


def settled_text(request: HumanRequest, decisions: Sequence[Decision] = ()) -> str:
    """ "already APPROVED by alice via cli at ...", from the instance's own record."""
    return f"already {what_happened(request, decisions)}"

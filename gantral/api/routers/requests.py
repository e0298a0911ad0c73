"""`/v1/requests`: the approver inbox across instances and teams (Temporal visibility)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from gantral.api.authz import CurrentCaller
from gantral.channels.inbox import InboxPage, open_requests
from gantral.domain.delegation import Delegated
from gantral.governance.delegation_book import DelegationBook
from gantral.identity import Permission

router = APIRouter(prefix="/v1/requests", tags=["requests"])

ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "No valid bearer token (the reason says why)"},
    403: {"description": "Not allowed to read (or decide for) the team asked for"},
    422: {"description": "Malformed query"},
    503: {"description": "Temporal is unavailable"},
}


@router.get("", responses=ERRORS)
async def list_requests(
    request: Request,
    caller: CurrentCaller,
    pending_for: Annotated[
        Literal["me"] | None,
        Query(description="`me`: only requests the caller may decide now"),
    ] = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Instances read at most")] = 200,
) -> InboxPage:
    """Open human requests, most urgent first (earliest deadline, then materiality, then age).

    With `pending_for=me`: those of teams the caller may decide for, which still need one
    of the caller's roles, and which separation of duties does not keep from them; and,
    for a deputy, those their delegators could decide (`deputy_for` names them).
    Otherwise every open request of the teams the caller may read.
    """
    mine = pending_for == "me"
    permission = Permission.DECISIONS_DECIDE if mine else Permission.INSTANCES_READ
    teams = await caller.readable_teams(permission, team)
    if teams == []:
        return InboxPage(items=[], truncated=False)
    delegated: list[Delegated] = []
    if mine:  # out of office: the requests of those the caller stands in for, too
        book: DelegationBook = request.app.state.delegations
        delegated = await book.in_effect_for(caller.actor.id)
    return await open_requests(
        request.app.state.temporal,
        teams=teams,
        actor=caller.actor if mine else None,
        limit=limit,
        delegated=delegated,
    )

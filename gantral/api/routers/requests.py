"""`/v1/requests`: the approver inbox across instances and teams (the request read model;
Temporal visibility when the API has no audit reader credentials)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from gantral.api.authz import CurrentCaller
from gantral.audit.reader import AuditReader
from gantral.channels.inbox import InboxPage, open_requests, pending_page, seen_on
from gantral.domain.delegation import Delegated
from gantral.errors import InvalidInput, Reason
from gantral.governance.delegation_book import DelegationBook
from gantral.identity import Permission

router = APIRouter(prefix="/v1/requests", tags=["requests"])

ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "No valid bearer token (the reason says why)"},
    403: {"description": "Not allowed to read (or decide for) the team asked for"},
    404: {"description": "A page_token this inbox did not issue (`bad_page_token`)"},
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
    limit: Annotated[int, Query(ge=1, le=1000, description="Requests per page at most")] = 200,
    page_token: Annotated[
        str | None,
        Query(max_length=1000, description="`next_page_token` of the previous page"),
    ] = None,
) -> InboxPage:
    """Open human requests, most urgent first: the earliest deadline (none last), then the
    oldest, then by request id; `next_page_token` pages through every one of them.

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
    reader: AuditReader | None = request.app.state.audit_reader
    if reader is not None:  # the request read model: every open request, page by page
        return await pending_page(
            reader,
            request.app.state.temporal,
            teams=teams,
            actor=caller.actor if mine else None,
            limit=limit,
            delegated=delegated,
            page_token=page_token,
            seen=seen_on(request.app.state),
        )
    if page_token is not None:
        raise InvalidInput(
            "page_token needs the audit read model (no reader credentials configured)",
            reason=Reason.BAD_PAGE_TOKEN,
        )
    return await open_requests(
        request.app.state.temporal,
        teams=teams,
        actor=caller.actor if mine else None,
        limit=limit,
        delegated=delegated,
    )

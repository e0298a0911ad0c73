"""`/v1/delegations/me`: deputies. A human hands their decision roles to a named deputy
for a time window (PUT), reads what they gave and received (GET), or ends it (DELETE).

Only a human who may decide (`decisions:decide` on some team) delegates; the roles are
those their token holds, the teams those they may decide for. A deputy decides with
`on_behalf_of` in the decision body, and still needs `decisions:decide` on the team
themselves. Setting and ending are recorded in the access log before they take effect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from gantral.api.authz import CurrentCaller
from gantral.api.deps import Core
from gantral.api.presence import PresenceWatch
from gantral.api.times import Rfc3339Time
from gantral.errors import Conflict, Reason
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.delegations import Delegation
from gantral.identity import Permission

router = APIRouter(prefix="/v1/delegations", tags=["delegations"])

ERRORS: dict[int | str, dict[str, str]] = {
    403: {"description": "A role not held, or one delegated to the caller (one hop only)"},
    404: {"description": "No delegation in effect to end"},
    409: {
        "description": "Delegating to oneself, to a deputy who is away, or a window empty,"
        " past or too long"
    },
    422: {"description": "Malformed body"},
    503: {"description": "The act could not be audited or stored, so it was not applied"},
}

_NAME = r"^[^\x00-\x1f\x7f]+$"


async def get_delegations(request: Request) -> DelegationBook:
    book: DelegationBook = request.app.state.delegations
    return book


Delegations = Annotated[DelegationBook, Depends(get_delegations)]


class DelegationSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deputy: str = Field(min_length=1, max_length=256, pattern=_NAME, description="Their subject")
    roles: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None,
        max_length=100,
        description="Roles handed over; default: every role the caller's token holds",
    )
    starts_at: Rfc3339Time | None = Field(default=None, description="Default: now")
    ends_at: Rfc3339Time = Field(description="Bounded by the configured maximum")
    reason: str | None = Field(default=None, max_length=2000, description="E.g. out of office")


class MyDelegations(BaseModel):
    given: Delegation | None = Field(description="The caller's delegation, now or upcoming")
    received: list[Delegation] = Field(description="Delegations naming the caller as deputy")


@router.put("/me", responses=ERRORS)
async def put_delegation(
    body: DelegationSet, caller: CurrentCaller, book: Delegations, core: Core, request: Request
) -> Delegation:
    """Delegate the caller's decision roles to `deputy` from `starts_at` until `ends_at`,
    replacing any current delegation. Roles delegated *to* the caller cannot be passed on
    (403 `delegation_chain`); a role the caller does not hold is 403 `role_not_held`."""
    await caller.check(Permission.DECISIONS_DECIDE)
    scope = caller.identity.visible_teams(caller.principal, Permission.DECISIONS_DECIDE)
    teams = None if scope.any_team else sorted(scope.teams)
    given = await book.put(
        caller.actor,
        teams,
        deputy=body.deputy,
        roles=body.roles,
        starts_at=_utc(body.starts_at) if body.starts_at is not None else None,
        ends_at=_utc(body.ends_at),
        reason=body.reason,
        record=core.record_admin_action,
    )
    presence: PresenceWatch | None = getattr(request.app.state, "presence", None)
    if presence is not None:  # now away: requests only they could decide escalate
        await presence.after_delegation(given)
    return given


@router.get("/me")
async def get_delegations_of_me(caller: CurrentCaller, book: Delegations) -> MyDelegations:
    """What the caller delegated (in effect or upcoming) and what was delegated to them."""
    return MyDelegations(
        given=await book.given_by(caller.actor.id),
        received=await book.received_by(caller.actor.id),
    )


@router.delete("/me", responses=ERRORS)
async def end_delegation(caller: CurrentCaller, book: Delegations, core: Core) -> Delegation:
    """End the caller's delegation now: their deputy's decisions for them stop at once."""
    return await book.end(caller.actor, core.record_admin_action)


def _utc(value: datetime) -> datetime:
    """In UTC; a time at the calendar's edge that has no UTC equivalent is no window."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise Conflict(
            f"{value.isoformat()} is outside any delegation window",
            reason=Reason.DELEGATION_WINDOW,
        ) from None

"""`/v1/standing-grants`: standing approvals given with an APPROVE (issue 24). List them,
read one, revoke one at once (`POST /v1/standing-grants/{id}:revoke`).

Reading needs `instances:read` on the grant's team. Revoking: the grant's approver, or
whoever may halt the team or override its decisions (operators, supervisors, platform
admins). Every revocation is recorded in the access log before it takes effect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gantral.api.authz import CurrentCaller
from gantral.api.deps import Core
from gantral.errors import Conflict, Forbidden, Reason, Unavailable
from gantral.governance.standing import StandingGrant
from gantral.governance.standing_store import StandingStore
from gantral.identity import Permission

router = APIRouter(prefix="/v1/standing-grants", tags=["standing-grants"])

ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "No valid bearer token (the reason says why)"},
    403: {"description": "Not the grant's approver, nor allowed to revoke for its team"},
    404: {"description": "Unknown standing grant"},
    409: {"description": "The standing grant is already revoked"},
    503: {"description": "The standing grants cannot be read"},
}

StandingId = Annotated[str, Path(max_length=200, pattern=r"^stg_[A-Za-z0-9_-]+$")]


async def get_standing(request: Request) -> StandingStore:
    store: StandingStore | None = request.app.state.core.standing
    if store is None:
        raise Unavailable("standing grants are not kept here", reason=Reason.STANDING_UNAVAILABLE)
    return store


Standing = Annotated[StandingStore, Depends(get_standing)]

# Who, besides its approver, may revoke a grant of a team.
_SUPERVISING = (Permission.HALTS_RAISE, Permission.DECISIONS_OVERRIDE)


class StandingRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why; audited")


@router.get("", responses=ERRORS)
async def list_standing_grants(
    caller: CurrentCaller,
    store: Standing,
    team: Annotated[str | None, Query(max_length=200)] = None,
    usable_only: Annotated[bool, Query(description="Only unrevoked, unexpired, unspent")] = False,
) -> list[StandingGrant]:
    """Standing grants of the teams the caller may read, oldest first."""
    teams = await caller.readable_teams(Permission.INSTANCES_READ, team)
    grants = await store.read(team)
    if teams is not None:
        grants = [g for g in grants if g.team in teams]
    if usable_only:
        now = datetime.now(UTC)
        grants = [g for g in grants if g.usable(now)]
    return grants


@router.get("/{standing_id:segment}", responses=ERRORS)
async def get_standing_grant(
    standing_id: StandingId, caller: CurrentCaller, store: Standing
) -> StandingGrant:
    grant = await store.get(standing_id)
    await caller.check(Permission.INSTANCES_READ, grant.team)
    return grant


@router.post("/{standing_id}:revoke", responses=ERRORS)
async def revoke_standing_grant(
    standing_id: StandingId,
    body: StandingRevoke,
    caller: CurrentCaller,
    store: Standing,
    core: Core,
) -> StandingGrant:
    """Revoke at once: later calls it would have served need a human again."""
    grant = await store.get(standing_id)
    await caller.check(Permission.INSTANCES_READ, grant.team)
    if caller.actor.id != grant.approver and not any(
        grant.team in caller.identity.visible_teams(caller.principal, p) for p in _SUPERVISING
    ):
        refused = Forbidden(
            f"only {grant.approver} or a supervisor of team {grant.team} may revoke it",
            reason=Reason.NOT_GRANT_APPROVER,
        )
        await caller.record(None, f"{caller.attempt} (revoke {standing_id})", refused)
        raise refused
    if grant.revoked_at is not None:
        raise Conflict(f"standing grant {standing_id} is already revoked",
                       reason=Reason.ALREADY_REVOKED)  # fmt: skip
    detail = {"standing_id": standing_id, "team": grant.team, "approver": grant.approver,
              "reason": body.reason}  # fmt: skip
    await core.record_admin_action(caller.actor, "standing_grant_revoked", detail)
    return await store.revoke(standing_id, caller.actor.id, body.reason)

"""`/v1/break-glass`: a quorum of named humans lets one scope pass a policy's human
requirement for a bounded time (issue 24). Open one (`POST /v1/break-glass`), approve it
(`POST /v1/break-glass/{id}:approve`), list them.

Who takes part is the deployment's break-glass quorum (`GANTRAL_HALTS__BREAK_GLASS`), not
the permission table, whatever the scope (as for a halt's lift quorum): a human holding
one of its roles. Reading needs `halts:read`. Every act is recorded in the access log
before it takes effect (503 if it cannot be).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from gantral.api.authz import CurrentCaller
from gantral.api.deps import Core
from gantral.api.routers.halts import Halts
from gantral.errors import Forbidden
from gantral.governance.break_glass import BreakGlass
from gantral.governance.halts import HaltScope
from gantral.identity import Permission
from gantral.settings.durations import Duration

router = APIRouter(prefix="/v1/break-glass", tags=["halts"])

BreakGlassId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
ERRORS: dict[int | str, dict[str, str]] = {
    403: {"description": "No break-glass here, or the caller holds none of its quorum's roles"},
    404: {"description": "Unknown break-glass"},
    409: {"description": "This human already approved, or it is no longer pending"},
    422: {"description": "The TTL is above the deployment's maximum"},
    503: {"description": "The act could not be audited, so it was not applied"},
}


class BreakGlassOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: HaltScope = Field(
        description='One of {"team": T}, {"agent": A}, {"workflow": W, "version": V}, '
        '{"deployment": true}'
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why; audited and listed")
    ttl: Duration = Field(
        description="How long it holds once its quorum is met (at most the deployment's "
        "maximum); never extended"
    )


class BreakGlassApprove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why; audited")


class BreakGlassView(BreakGlass):
    """A break-glass and where it stands now: gathering approvals, in effect, or ended."""

    status: Literal["pending", "active", "ended"]


def _view(glass: BreakGlass) -> BreakGlassView:
    state = glass.state_at(datetime.now(UTC))
    return BreakGlassView.model_validate({**glass.model_dump(), "status": state})


async def _member(caller: CurrentCaller, halts: Halts) -> None:
    """Before anything is read: only the quorum's humans take part (recorded if not)."""
    try:
        halts.glass.check_member(caller.actor)
    except Forbidden as exc:
        await caller.record(None, caller.attempt, exc)
        raise


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def open_break_glass(
    body: BreakGlassOpen, caller: CurrentCaller, halts: Halts, core: Core
) -> BreakGlassView:
    """Open a break-glass on a scope; the opener's approval counts first. Once the quorum
    is met it holds for `ttl` (409 `break_glass_ttl_too_long` above the maximum), then
    ends by itself. While it holds, `authorize` calls in scope that a policy sends to a
    human are allowed without one (CRITICAL steps only if the deployment says so), each
    recorded as ALLOWED_BY_BREAK_GLASS; a halt in scope still refuses them."""
    await _member(caller, halts)
    glass = await halts.glass.open(
        caller.actor, body.scope, body.reason, body.ttl, core.record_admin_action
    )
    return _view(glass)


@router.get("")
async def list_break_glass(
    caller: CurrentCaller,
    halts: Halts,
    include_ended: Annotated[bool, Query(description="Ended ones too")] = False,
) -> list[BreakGlassView]:
    """Break-glasses pending or in effect (with `include_ended`, every one), oldest
    first, with who opened and approved them."""
    await caller.check(Permission.HALTS_READ)
    since = None if include_ended else datetime.now(UTC)
    return [_view(g) for g in await halts.glass.store.read(since=since)]


@router.get("/{break_glass_id:segment}", responses=ERRORS)
async def get_break_glass(
    break_glass_id: BreakGlassId, caller: CurrentCaller, halts: Halts
) -> BreakGlassView:
    await caller.check(Permission.HALTS_READ)
    return _view(await halts.glass.store.get(break_glass_id))


@router.post("/{break_glass_id}:approve", responses=ERRORS)
async def approve_break_glass(
    break_glass_id: BreakGlassId,
    body: BreakGlassApprove,
    caller: CurrentCaller,
    halts: Halts,
    core: Core,
) -> BreakGlassView:
    """Approve a pending break-glass (each human once: 409
    `break_glass_already_approved`); the approval that completes the quorum puts it in
    effect for its TTL. An active or ended one: 409 `break_glass_not_pending`."""
    await _member(caller, halts)
    glass = await halts.glass.store.get(break_glass_id)
    approved = await halts.glass.approve(caller.actor, glass, body.reason, core.record_admin_action)
    return _view(approved)

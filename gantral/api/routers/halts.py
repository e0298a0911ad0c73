"""`/v1/halts`: the kill switch. Raise a halt on a team, an agent, a workflow (version)
or the whole deployment; list halts; lift one (`POST /v1/halts/{id}:lift`).

A team halt needs `halts:raise` (to lift: `halts:lift`) on that team; any other scope
names no single team, so it needs the permission on every team. Raising and lifting are
recorded in the access log before they take effect (503 if they cannot be).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from gantral.api.authz import CurrentCaller
from gantral.api.deps import Core
from gantral.errors import Forbidden, NotFound, Reason
from gantral.governance.halt_book import HaltBook
from gantral.governance.halts import Halt, HaltScope
from gantral.governance.standing_store import revoke_in_scope
from gantral.identity import Permission

router = APIRouter(prefix="/v1/halts", tags=["halts"])

HaltId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
ERRORS: dict[int | str, dict[str, str]] = {
    403: {"description": "The permission (or the deployment's role) is not held"},
    404: {"description": "Unknown halt"},
    409: {"description": "The halt is already lifted, or this human already approved"},
    422: {"description": "An exemption that is not narrower than the halt"},
    503: {"description": "The act could not be audited, so it was not applied"},
}


async def get_halts(request: Request) -> HaltBook:
    halts: HaltBook = request.app.state.halts
    return halts


Halts = Annotated[HaltBook, Depends(get_halts)]


class HaltRaise(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: HaltScope = Field(
        description='One of {"team": T}, {"agent": A}, {"workflow": W, "version": V}, '
        '{"deployment": true}'
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why; audited and listed")
    lift_by_another: StrictBool = Field(
        default=False, description="Only someone other than the raiser may lift it"
    )


class HaltLift(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why; audited")


class HaltExempt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: HaltScope = Field(
        description="A narrower part of the halt's scope that runs again (e.g. one agent or "
        "workflow of a halted team)"
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why; audited")


async def _check_scope(caller: CurrentCaller, permission: Permission, scope: HaltScope) -> None:
    """`permission` on the scope's team; on every team for a scope that names none."""
    await caller.check(permission, scope.team)
    if (
        scope.team is None
        and not caller.identity.visible_teams(caller.principal, permission).any_team
    ):
        refused = Forbidden(
            f"{permission} on {scope.describe()} needs the permission on every team",
            reason=Reason.SCOPE_NOT_GRANTED,
            permission=str(permission),
        )
        await caller.record(None, f"{caller.attempt} ({permission})", refused)
        raise refused


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def raise_halt(body: HaltRaise, caller: CurrentCaller, halts: Halts, core: Core) -> Halt:
    """Halt everything in the scope: new instances, `authorize` calls and step starts
    (unused grants) are refused with 409 `halted` until the halt is lifted; requests
    already pending stay pending. In effect on every API replica within a second.
    Where the deployment lets owners halt their agents, an agent's owner may halt it
    without `halts:raise`."""
    as_owner = await halts.owns(caller.actor, body.scope)
    if not as_owner:
        await _check_scope(caller, Permission.HALTS_RAISE, body.scope)
    try:
        halt = await halts.raise_halt(
            caller.actor,
            body.scope,
            body.reason,
            core.record_admin_action,
            lift_by_another=body.lift_by_another,
            as_owner=as_owner,
        )
    except Forbidden as exc:  # a role the deployment's policy does not let raise
        await caller.record(None, f"{caller.attempt} ({Permission.HALTS_RAISE})", exc)
        raise
    await core.deliver_halt(halt, lifted=False)  # pending requests' deadlines freeze
    if core.standing is not None:  # a halt also ends the standing grants it reaches
        await revoke_in_scope(core.standing, body.scope, caller.actor.id, f"halt {halt.halt_id}")
    return halt


@router.get("")
async def list_halts(
    caller: CurrentCaller,
    halts: Halts,
    include_lifted: Annotated[bool, Query(description="Lifted halts too")] = False,
) -> list[Halt]:
    """Halts in effect (with `include_lifted`, every halt), oldest first, with who raised
    (and lifted) them, when and why. Team-scoped like other reads: a team's halt is
    listed to those who may read that team's halts; an agent, workflow or deployment
    halt, which may cover any team's instances, to every holder of `halts:read`."""
    await caller.check(Permission.HALTS_READ)
    every = await halts.store.read(active_only=not include_lifted)
    return [h for h in every if _visible(caller, h)]


@router.get("/{halt_id:segment}", responses=ERRORS)
async def get_halt(halt_id: HaltId, caller: CurrentCaller, halts: Halts) -> Halt:
    await caller.check(Permission.HALTS_READ)
    halt = await halts.store.get(halt_id)
    if not _visible(caller, halt):  # another team's: as unknown, so ids cannot be probed
        raise NotFound(f"unknown halt {halt_id!r}", reason=Reason.UNKNOWN_HALT)
    return halt


def _visible(caller: CurrentCaller, halt: Halt) -> bool:
    if halt.scope.team is None:
        return True
    return halt.scope.team in caller.identity.visible_teams(caller.principal, Permission.HALTS_READ)


@router.post("/{halt_id}:lift", responses=ERRORS)
async def lift_halt(
    halt_id: HaltId, body: HaltLift, caller: CurrentCaller, halts: Halts, core: Core
) -> Halt:
    """Lift a halt: calls in its scope are answered again (unless another halt holds).
    A halt raised with `lift_by_another` (or any, with `GANTRAL_HALTS__LIFT_SEPARATION`)
    refuses its raiser (403 `lifter_is_raiser`). When the deployment's lift needs a
    quorum (`GANTRAL_HALTS__LIFT`), each call records one human's approval (listed in
    `lift_approvals`; a second by the same human: 409 `lift_already_approved`) and the
    approval that completes it lifts the halt."""
    attempt = f"{caller.attempt} ({Permission.HALTS_LIFT})"
    halt = await _halt_to_lift(caller, halts, halt_id)
    try:
        lifted = await halts.lift(caller.actor, halt, body.reason, core.record_admin_action)
    except Forbidden as exc:  # the raiser of a halt that someone else must lift
        await caller.record(None, attempt, exc)
        raise
    if not lifted.active:  # (a lift short of its quorum holds on)
        await core.deliver_halt(lifted, lifted=True)  # frozen deadlines run again
    return lifted


@router.post("/{halt_id}:exempt", responses=ERRORS)
async def exempt_from_halt(
    halt_id: HaltId, body: HaltExempt, caller: CurrentCaller, halts: Halts, core: Core
) -> Halt:
    """Staged recovery: let a narrower scope inside the halt (one agent, one workflow or
    version, a team of a deployment halt) run again while the rest stays halted; listed
    in the halt's `exemptions`. Needs `halts:lift` as a lift does; a scope that is not
    narrower is 409 `exemption_not_narrower`. Where the deployment lifts halts by a
    quorum (`GANTRAL_HALTS__LIFT`), an exemption needs the same quorum for that part:
    each call records one human's approval (listed in `exemption_approvals`; a second
    by the same human for the same part: 409 `exemption_already_approved`) and the
    approval that completes it exempts the part."""
    attempt = f"{caller.attempt} ({Permission.HALTS_LIFT})"
    halt = await _halt_to_lift(caller, halts, halt_id)
    try:
        exempted = await halts.exempt(
            caller.actor, halt, body.scope, body.reason, core.record_admin_action
        )
    except Forbidden as exc:
        await caller.record(None, attempt, exc)
        raise
    if any(e.scope == body.scope for e in exempted.exemptions):  # (not short of a quorum)
        # The part's frozen deadlines run again, with the time they had left.
        await core.deliver_halt(exempted, lifted=False, exempted=body.scope)
    return exempted


async def _halt_to_lift(caller: CurrentCaller, halts: HaltBook, halt_id: str) -> Halt:
    """The halt a caller may lift or exempt part of: checked before it is read (no
    probing). With a quorum, the deployment's rule names who may take part, whatever the
    scope; otherwise the permission table does, on the halt's teams."""
    quorum = halts.lift_rule is not None
    if quorum:
        try:
            halts.check_lifter(caller.actor)
        except Forbidden as exc:
            await caller.record(None, f"{caller.attempt} ({Permission.HALTS_LIFT})", exc)
            raise
    else:
        await caller.check(Permission.HALTS_LIFT)
    halt = await halts.store.get(halt_id)
    if not quorum:
        await _check_scope(caller, Permission.HALTS_LIFT, halt.scope)
    return halt

"""`/v1/instances`: the agent protocol and human decisions. One core call per route.

Who may call what is decided in `gantral.api.authz`; routes declare the permission they need.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from gantral.api.authz import (
    AuthorizesSteps,
    CurrentCaller,
    Decides,
    InstanceId,
    ReadsInstance,
    ReportsEvents,
)
from gantral.api.deciding import decide_as
from gantral.api.deps import Core
from gantral.api.presence import PresenceWatch
from gantral.api.schemas import (
    AuthorizeRequest,
    DecisionRequest,
    EventRequest,
    FinishRequest,
    StartInstanceRequest,
)
from gantral.core import InstancePage
from gantral.domain.actors import Actor
from gantral.domain.records import HumanRequest
from gantral.domain.states import State
from gantral.identity import Permission
from gantral.workflows.messages import (
    AgentEvent,
    AgentEventResult,
    AuthorizeResult,
    AuthorizeStep,
    DecisionResult,
    Finish,
    FinishKind,
    InstanceView,
)

router = APIRouter(prefix="/v1/instances", tags=["instances"])

StepId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]
# The longest a long poll is held, whatever `wait` asks: below common client and proxy
# timeouts (10 s and more: a generated client's default, proxies' 30-60 s), so a waiting
# client sees an answer, never its own timeout. The SDKs poll again until their own
# deadline, so a short hold costs one small request per 8 s, nothing else.
MAX_HOLD_SECONDS = 8.0
_WAIT_DOC = (
    "Long poll: hold the answer until the request is decided, at most this many seconds. "
    f"The server holds at most {MAX_HOLD_SECONDS:g} s: a larger `wait` is capped, not refused, "
    "and a request still PENDING then is answered as it stands (poll again). Set the "
    f"client's timeout above min(wait, {MAX_HOLD_SECONDS:g}) s."
)
ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "No valid bearer token (the reason says why)"},
    403: {"description": "Not allowed; recorded in the instance's audit log"},
    404: {"description": "Unknown instance or request"},
    409: {"description": "Not allowed in the instance's current state"},
    422: {"description": "Malformed request"},
}


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def start_instance(
    body: StartInstanceRequest, core: Core, caller: CurrentCaller, response: Response
) -> InstanceView:
    """Start a governed instance. A repeated `idempotency_key` returns the same instance (200)."""
    await caller.check(Permission.INSTANCES_START, body.owning_team_id)
    view, created = await core.start_instance(
        workflow_id=body.workflow_id,
        workflow_version=body.workflow_version,
        owning_team_id=body.owning_team_id,
        trigger_context=body.trigger_context,
        idempotency_key=body.idempotency_key,
        actor=caller.actor,
        callback_url=body.callback_url,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return view


@router.get("", responses=ERRORS)
async def list_instances(
    core: Core,
    caller: CurrentCaller,
    state: State | None = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    workflow: Annotated[str | None, Query(max_length=200)] = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[
        str | None,
        Query(
            max_length=4096,
            description="Opaque: the `next_page_token` of the previous page, sent with the "
            "same filters. A token this API did not issue for this listing (made up, "
            "altered, other filters, or from before a key rotation) is answered 404 "
            "`bad_page_token`: list again without it.",
        ),
    ] = None,
) -> InstancePage:
    """List instances from Temporal visibility, filtered by state, team and workflow.

    Only instances of teams the caller may read are listed.
    """
    teams = await caller.readable_teams(Permission.INSTANCES_READ, team)
    if teams == []:
        return InstancePage(items=[], next_page_token=None)
    return await core.list_instances(
        state=state,
        teams=teams,
        workflow_id=workflow,
        page_size=page_size,
        page_token=page_token,
    )


@router.get("/{instance_id}", responses=ERRORS)
async def get_instance(instance_id: InstanceId, core: Core, _: ReadsInstance) -> InstanceView:
    return await core.get_instance(instance_id)


@router.post("/{instance_id}/steps/{step_id}/authorize", responses=ERRORS)
async def authorize_step(
    instance_id: InstanceId,
    step_id: StepId,
    body: AuthorizeRequest,
    core: Core,
    access: AuthorizesSteps,
    response: Response,
    request: Request,
) -> AuthorizeResult:
    """Ask before a governed step. ALLOW carries a grant; PENDING carries the human request;
    NOT_READY (capacity, rate, budget) says which rule blocks and when to ask again."""
    step = AuthorizeStep(
        step_id=step_id,
        action=body.action,
        arguments=body.arguments,
        context=body.context,
        actor=access.actor,
        idempotency_key=body.idempotency_key,
    )
    result = await core.authorize(instance_id, step)
    presence: PresenceWatch | None = getattr(request.app.state, "presence", None)
    if presence is not None:  # nobody present can decide it: the next tier, at once
        await presence.after_authorize(instance_id, result)
    if result.retry_after is not None:
        # NOT_READY is an answer (200), not an error; generic clients still back off.
        response.headers["Retry-After"] = str(max(1, math.ceil(result.retry_after)))
    return result


@router.get("/{instance_id}/requests/{request_id}", responses=ERRORS)
async def get_request(
    instance_id: InstanceId,
    request_id: Annotated[str, Path(max_length=200)],
    core: Core,
    _: ReadsInstance,
    wait: Annotated[float, Query(ge=0, le=60, description=_WAIT_DOC)] = 0,
) -> HumanRequest:
    """The human request; with `wait`, returns as soon as it is decided or the wait ends.

    The server holds a long poll at most 8 s (`wait` up to 60 is accepted and capped,
    never refused): a request still PENDING then is answered as it stands; ask again."""
    return await core.get_request(instance_id, request_id, min(wait, MAX_HOLD_SECONDS))


@router.post("/{instance_id}/decisions", responses=ERRORS)
async def decide(
    instance_id: InstanceId, body: DecisionRequest, core: Core, access: Decides, request: Request
) -> DecisionResult:
    """APPROVE, REJECT or OVERRIDE a pending request. Racing decisions: one wins, others 409.

    Needs `decisions:decide` on the instance's team, and `decisions:override` to OVERRIDE;
    the workflow then checks the role against the instance's pinned policy. A deputy
    names the delegator in `on_behalf_of` and decides with the delegated roles only.
    """
    return await decide_as(access, core, body, delegations=request.app.state.delegations)


@router.post("/{instance_id}/events", responses=ERRORS)
async def report_event(
    instance_id: InstanceId, body: EventRequest, core: Core, access: ReportsEvents
) -> AgentEventResult:
    """Step started/completed/failed and cost. Starting a governed step needs its grant."""
    event = AgentEvent(
        kind=body.kind,
        step_id=body.step_id,
        grant_id=body.grant_id,
        args_digest=body.args_digest,
        cost=body.cost,
        detail=body.detail,
        actor=access.actor,
        idempotency_key=body.idempotency_key,
    )
    return await core.report(instance_id, event)


async def _finish(
    core: Core, instance_id: str, kind: FinishKind, body: FinishRequest, actor: Actor
) -> InstanceView:
    cmd = Finish(kind=kind, reason=body.reason, actor=actor, idempotency_key=body.idempotency_key)
    return await core.finish(instance_id, cmd)


@router.post("/{instance_id}/cancel", responses=ERRORS)
async def cancel(
    instance_id: InstanceId, body: FinishRequest, core: Core, access: ReportsEvents
) -> InstanceView:
    return await _finish(core, instance_id, FinishKind.CANCEL, body, access.actor)


@router.post("/{instance_id}/complete", responses=ERRORS)
async def complete(
    instance_id: InstanceId, body: FinishRequest, core: Core, access: ReportsEvents
) -> InstanceView:
    return await _finish(core, instance_id, FinishKind.COMPLETE, body, access.actor)


@router.post("/{instance_id}/fail", responses=ERRORS)
async def fail(
    instance_id: InstanceId, body: FinishRequest, core: Core, access: ReportsEvents
) -> InstanceView:
    return await _finish(core, instance_id, FinishKind.FAIL, body, access.actor)

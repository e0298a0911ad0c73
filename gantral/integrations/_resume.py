"""A governed step split in two, for frameworks that pause a run and resume it later
(LangGraph's `interrupt` re-runs the node): ask once, then finish on the same request.

`AsyncGantralClient.governed_step` cannot be re-entered after a pause: authorizing again
after the decision would open a new request. So the halves are built here from the SDK's
public calls and its own binding check (`gantral_sdk._governed.bind`: the local digest of
the arguments to run must be the grant's). Asked of the SDK: `resume_step` / `run_step`
(see the issue 16 requests); this module then shrinks to calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from gantral_sdk import (
    AgentEventKind,
    AuthorizeOutcome,
    AuthorizeResult,
    Conflict,
    GovernedStep,
    StepRefused,
    _governed,
)

from gantral.integrations._core import Decided, Guard, _quietly

T = TypeVar("T")

__all__ = ["ask", "finish", "pending_request", "run_granted"]


async def ask(
    guard: Guard,
    tool: str,
    arguments: Mapping[str, Any],
    instance_id: str | None = None,
    *,
    call_key: str | None = None,
) -> dict[str, Any]:
    """Start the call's instance (unless given) and authorize. JSON-plain, so a framework
    can checkpoint it and hand it back after a pause instead of asking again.

    `call_key` names the tool call (e.g. its thread and call id): asked again, even with
    edited arguments, the same call gets the same instance, so the new authorization
    supersedes a request still pending for the old arguments, and an approval already
    given for them dies with that instance when the call ends."""
    route = guard.route(tool)
    iid = instance_id or await guard.start(tool, call_key)
    action = route.action or tool
    requested = _governed.plain(dict(arguments))

    async def authorize(iid: str) -> AuthorizeResult:
        return await guard.client.authorize(
            iid, route.step, action=action, arguments=requested, context=dict(route.context)
        )

    try:
        result = await authorize(iid)
    except Conflict:
        if instance_id is not None or call_key is None:
            raise
        # The call's instance has ended (its id reused by another call): a fresh one.
        iid = await guard.start(tool)
        result = await authorize(iid)
    return {
        "tool": tool,
        "instance_id": iid,
        "own_instance": instance_id is None,
        "step_id": route.step,
        "action": action,
        "arguments": requested,
        "result": result.model_dump(mode="json"),
    }


def pending_request(asked: Mapping[str, Any]) -> dict[str, Any] | None:
    """What to show while a human decides, or None when the policy allowed the call."""
    result = AuthorizeResult.model_validate(asked["result"])
    if result.outcome is AuthorizeOutcome.ALLOW or result.request is None:
        return None
    request = result.request
    return {
        "gantral": {
            "instance_id": asked["instance_id"],
            "request_id": request.request_id,
            "step_id": request.step_id,
            "tool": asked["tool"],
            "action": request.action,
            "arguments": request.arguments,
            # What a decision on this request names: the arguments as shown here.
            "args_digest": request.args_digest,
            "materiality": str(request.materiality),
            "required_approvers": request.required_approvers,
            # The caller may decide it in their own client (policy `self_approval`).
            "self_approval": request.self_approval,
            "explanation": result.explanation,
        }
    }


async def finish(
    guard: Guard, asked: Mapping[str, Any], arguments: Mapping[str, Any]
) -> GovernedStep:
    """Wait for the decision on the request `ask` opened (if any) and bind the grant to
    `arguments`, the ones about to run. Nothing is started.

    Raises:
        ToolRefused: rejected, expired, cancelled, not decided in time, or `arguments`
            are not what was authorized (changed after approval): digest mismatch.
    """
    tool, iid = asked["tool"], asked["instance_id"]
    result = AuthorizeResult.model_validate(asked["result"])
    try:
        request = _governed.request_to_wait_for(result)
        if request is not None and not _governed.settled(request):
            request = await guard.client.wait_for_decision(iid, request.request_id, wait=guard.wait)
        # The arguments to run are the caller's now, not the ones asked about: any
        # change since the approval fails the SDK's digest check.
        requested = _governed.plain(dict(arguments))
        return _governed.bind(iid, asked["step_id"], asked["action"], requested, result, request)
    except StepRefused as exc:
        if asked["own_instance"]:
            await _quietly(guard.client.cancel(iid, f"tool {tool} call refused"))
        raise await guard.refused(tool, iid, exc) from exc


async def run_granted(
    guard: Guard,
    step: GovernedStep,
    run: Callable[[dict[str, Any]], Awaitable[T]],
    *,
    own_instance: bool,
) -> tuple[T, Decided]:
    """Start the step with its grant, run it with the granted arguments, report the end."""
    client, iid = guard.client, step.instance_id
    await client.report(
        iid, AgentEventKind.STEP_STARTED, step_id=step.step_id,
        grant_id=step.grant.grant_id, args_digest=step.args_digest,
    )  # fmt: skip
    try:
        result = await run(dict(step.arguments))
    except BaseException as exc:
        await _quietly(
            client.report(
                iid,
                AgentEventKind.STEP_FAILED,
                step_id=step.step_id,
                detail=_governed.failure_detail(exc),
            )
        )
        if own_instance:
            await _quietly(client.fail(iid, f"tool {step.action} failed"))
        raise
    await client.report(
        iid, AgentEventKind.STEP_COMPLETED, step_id=step.step_id, detail=step.detail
    )
    decided = await guard.decided(step)
    if own_instance:
        await client.complete(iid)
    return result, decided

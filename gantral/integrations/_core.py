"""What every framework integration shares: route a tool call to a governed step, run it
through the SDK's governed-step helper, and say plainly why a call was refused.

No framework is imported here. Every guarantee is the server's, via
`AsyncGantralClient.governed_step`: the arguments are bound to the grant (digest checked
locally and again by the server), grants are single use, an override's edit is
re-checked by the pinned policy, and every step is audited.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from gantral_sdk import (
    AsyncGantralClient,
    Decision,
    DecisionTimeout,
    DigestMismatch,
    GantralSDKError,
    GovernedStep,
    HumanRequest,
    RequestStatus,
    StepCancelled,
    StepRefused,
)
from gantral_sdk._governed import DEFAULT_DECISION_WAIT

from gantral.errors import Reason

T = TypeVar("T")

ABANDON_TIMEOUT = 10.0
"""Seconds allowed to cancel the instance of a call its caller abandoned."""

__all__ = ["Decided", "Guard", "ToolRefused", "ToolRoute"]


@dataclass(frozen=True)
class ToolRoute:
    """Which governed step of the workflow template a tool's calls are.

    Attributes:
        step: The template's step id; its policy decides.
        action: What the grant covers (default: the tool's name).
        context: Shown to the approver beside the arguments.
    """

    step: str
    action: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decided:
    """How a governed call was authorized; handed back with the tool's result.

    `arguments` are what ran: the requested ones, or an override's edit. `decision_id`
    and `actor` name the human decision (None when the policy allowed it outright).
    """

    instance_id: str
    step_id: str
    outcome: str
    arguments: dict[str, Any]
    args_digest: str
    grant_id: str
    request_id: str | None = None
    decision_id: str | None = None
    actor: str | None = None
    justification: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "step_id": self.step_id,
            "outcome": self.outcome,
            "arguments": self.arguments,
            "args_digest": self.args_digest,
            "grant_id": self.grant_id,
            "request_id": self.request_id,
            "decision_id": self.decision_id,
            "actor": self.actor,
            "justification": self.justification,
        }


class ToolRefused(Exception):
    """A tool call that must not run. `str()` is the sentence to show the agent or user.

    Attributes:
        tool: The tool's name.
        reason: Machine-readable: `rejected`, `expired`, `cancelled`, `decision_timeout`,
            `args_digest_mismatch`, `not_governed`, or the SDK's reason.
        decision: The human decision, when one refused the call.
    """

    def __init__(
        self,
        tool: str,
        message: str,
        *,
        reason: str,
        request: HumanRequest | None = None,
        decision: Decision | None = None,
    ) -> None:
        super().__init__(message)
        self.tool = tool
        self.reason = reason
        self.request = request
        self.decision = decision


def decision_for(decisions: list[Decision], request_id: str | None) -> Decision | None:
    """The last decision on `request_id` (an approval quorum has several; the last settled it)."""
    found = [d for d in decisions if request_id is not None and d.request_id == request_id]
    return found[-1] if found else None


def refusal_text(tool: str, exc: StepRefused, decision: Decision | None) -> str:
    """One sentence an agent can act on: what happened, who decided, why."""
    request = exc.request
    ref = f" (request {request.request_id})" if request is not None else ""
    if isinstance(exc, DecisionTimeout):
        return f"Gantral: no decision on tool {tool!r} in time; the call was not made{ref}."
    if isinstance(exc, DigestMismatch):
        return (
            f"Gantral: the grant for tool {tool!r} does not cover these arguments; "
            f"the call was not made{ref}."
        )
    status = str(request.status) if request is not None else exc.reason
    if request is not None and request.status is RequestStatus.SUPERSEDED:
        who = f" by {decision.human_actor_id}" if decision is not None else ""
        return (
            f"Gantral: the edit of tool {tool!r}{who} needs more authority under the "
            f"policy, so it went to other approvers; the call was not made{ref}."
        )
    text = f"Gantral: tool {tool!r} was {status}"
    if decision is not None:
        text += f" by {decision.human_actor_id}"
        if decision.justification:
            text += f": {decision.justification}"
    elif request is not None and request.decided_by:
        text += f" by {request.decided_by}"
    return text + f"; the call was not made{ref}."


class Guard:
    """Governs tool calls under one workflow template, through the Python SDK.

    Each call runs as the governed step its route names. Without an `instance_id`, every
    call gets its own instance of `workflow_id` (started for `team`, closed after the
    call): a rejection ends that instance, not the agent. With one, calls are steps of
    that instance and the caller closes it.

    Args:
        client: The agent's SDK client.
        workflow_id: The workflow template whose steps' policies decide.
        team: The owning team of the instances started.
        routes: Tool name to route. A tool with no route is refused (fail closed)
            unless `default` is given.
        default: The route of every tool not in `routes`.
        wait: Seconds to wait for a human before refusing the call.
        trigger_context: Sent with each instance started.
    """

    def __init__(
        self,
        client: AsyncGantralClient,
        workflow_id: str,
        team: str,
        routes: Mapping[str, ToolRoute | str],
        *,
        default: ToolRoute | str | None = None,
        wait: float = DEFAULT_DECISION_WAIT,
        trigger_context: Mapping[str, Any] | None = None,
        on_pending: Callable[[HumanRequest], object] | None = None,
    ) -> None:
        self.client = client
        self.workflow_id = workflow_id
        self.team = team
        self.routes = {name: _route(r) for name, r in routes.items()}
        self.default = _route(default) if default is not None else None
        self.wait = wait
        self.trigger_context = dict(trigger_context or {})
        self.on_pending = on_pending

    def route(self, tool: str) -> ToolRoute:
        route = self.routes.get(tool, self.default)
        if route is None:
            raise ToolRefused(
                tool,
                f"Gantral: tool {tool!r} is not governed by this configuration; "
                "the call was not made.",
                reason=Reason.NOT_GOVERNED,
            )
        return route

    async def start(self, tool: str, idempotency_key: str | None = None) -> str:
        """A new instance for one call of `tool` (the same one again for the same key)."""
        view = await self.client.start_instance(
            self.workflow_id, self.team, {**self.trigger_context, "tool": tool},
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return view.instance_id

    async def call(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        run: Callable[[dict[str, Any]], Awaitable[T]],
        *,
        instance_id: str | None = None,
    ) -> tuple[T, Decided]:
        """Authorize `tool(arguments)`, wait for a human if the policy says so, then
        `run(granted_arguments)` once, inside the governed step.

        Raises:
            ToolRefused: rejected, expired, cancelled, not decided within `wait`, or
                the grant does not cover the arguments; `run` was not called.
        """
        route = self.route(tool)
        own = instance_id is None
        iid = instance_id or await self.start(tool)
        try:
            async with self.client.governed_step(
                iid, route.step, action=route.action or tool, arguments=dict(arguments),
                context=dict(route.context), wait=self.wait, on_pending=self.on_pending,
            ) as step:  # fmt: skip
                result = await run(dict(step.arguments))
        except StepRefused as exc:
            if own and isinstance(exc, DecisionTimeout | StepCancelled):
                # Nobody will present a grant from this instance (still waiting, or an
                # override's follow-up request): close it so it cannot be used later.
                await _quietly(self.client.cancel(iid, f"tool {tool} call abandoned"))
            raise await self.refused(tool, iid, exc) from exc
        except BaseException as exc:
            if own and isinstance(exc, anyio.get_cancelled_exc_class()):
                await self.abandon(iid, tool)
            elif own:
                await _quietly(self.client.fail(iid, f"tool {tool} failed"))
            raise
        decided = await self.decided(step)
        if own:
            await self.client.complete(iid)
        return result, decided

    async def abandon(self, instance_id: str, tool: str, why: str = "cancelled") -> None:
        """The caller gave up on the call (cancelled, disconnected, timed out): cancel its
        instance, so its request leaves the approvers' inboxes, a later decision is refused,
        and no grant issued for it can be used. Shielded: the cancellation that brought us
        here would otherwise cancel this request too."""
        reason = f"tool {tool} call abandoned by its caller ({why})"
        with anyio.CancelScope(shield=True), anyio.move_on_after(ABANDON_TIMEOUT):
            await _quietly(self.client.cancel(instance_id, reason))

    async def refused(self, tool: str, instance_id: str, exc: StepRefused) -> ToolRefused:
        decision = None
        if exc.request is not None and not isinstance(exc, DecisionTimeout):
            view = await self.client.get_instance(instance_id)
            decision = decision_for(view.decisions, exc.request.request_id)
        return ToolRefused(
            tool,
            refusal_text(tool, exc, decision),
            reason=_reason(exc),
            request=exc.request,
            decision=decision,
        )

    async def decided(self, step: GovernedStep) -> Decided:
        """The step's authorization, with the deciding human's decision id and identity."""
        decision = None
        if step.request is not None:
            view = await self.client.get_instance(step.instance_id)
            decision = decision_for(view.decisions, step.request.request_id)
        return Decided(
            instance_id=step.instance_id,
            step_id=step.step_id,
            outcome=str(step.outcome),
            arguments=dict(step.arguments),
            args_digest=step.args_digest,
            grant_id=step.grant.grant_id,
            request_id=step.request.request_id if step.request is not None else None,
            decision_id=decision.decision_id if decision is not None else None,
            actor=decision.human_actor_id if decision is not None else None,
            justification=decision.justification if decision is not None else None,
        )


def _route(route: ToolRoute | str) -> ToolRoute:
    return ToolRoute(step=route) if isinstance(route, str) else route


def _reason(exc: StepRefused) -> str:
    if isinstance(exc, DecisionTimeout):
        return Reason.DECISION_TIMEOUT
    if isinstance(exc, DigestMismatch):
        return Reason.ARGS_DIGEST_MISMATCH
    if exc.request is not None and exc.request.status is not None:
        return str(exc.request.status).lower()
    return exc.reason


async def _quietly(call: Awaitable[object]) -> None:
    """Best effort: the caller's own exception is the one that matters."""
    with contextlib.suppress(GantralSDKError):
        await call

"""The governed step's local checks, shared by the sync and async clients. No I/O.

The server decides; the SDK only makes sure the agent runs exactly what a grant covers.
It computes the digest of the arguments it will run itself (`_digest.args_digest`, the
server's function) and never takes a digest from the server for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gantral_sdk._digest import args_digest
from gantral_sdk._errors import (
    DigestMismatch,
    StepCancelled,
    StepExpired,
    StepRefused,
    StepRejected,
)
from gantral_sdk._types_gen import (
    AuthorizeOutcome,
    AuthorizeResult,
    Cost,
    Decision,
    Grant,
    HumanRequest,
    RequestStatus,
)

DEFAULT_DECISION_WAIT = 3600.0
"""How long a governed step waits for a human by default, in seconds."""

NOT_READY = "NOT_READY"
# Bounds on the server's `retry_after` hint: never a busy loop, never an hour's nap
# (a raised budget or a freed slot should be noticed soon).
_NOT_READY_PAUSE = (0.05, 60.0)
_NOT_READY_DEFAULT = 1.0

_REFUSALS: dict[RequestStatus, type[StepRefused]] = {
    RequestStatus.REJECTED: StepRejected,
    RequestStatus.EXPIRED: StepExpired,
    RequestStatus.CANCELLED: StepCancelled,
    RequestStatus.SUPERSEDED: StepCancelled,
}


@dataclass
class GovernedStep:
    """An authorized step, ready to run.

    Attributes:
        instance_id: The instance.
        step_id: The step.
        action: The action the grant covers (the step id when none was given).
        arguments: The arguments to run: the requested ones, or an override's edit.
        args_digest: Their digest, computed locally; equal to the grant's.
        grant: The single-use grant the step was started with.
        outcome: `ALLOW`, `APPROVED` or `OVERRIDDEN`.
        request: The human request, when a human was asked.
        detail: Free-form facts sent with STEP_COMPLETED; fill it while the step runs.
        cost: Cost to report with the step's end, if set (tokens, money, wall time).
    """

    instance_id: str
    step_id: str
    action: str
    arguments: dict[str, Any]
    args_digest: str
    grant: Grant
    outcome: str
    request: HumanRequest | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    cost: Cost | None = None

    @property
    def overridden(self) -> bool:
        """True when a human changed the arguments (OVERRIDE)."""
        return self.outcome == RequestStatus.OVERRIDDEN

    @property
    def context_delta(self) -> dict[str, Any] | None:
        """The override's changed parameters, if any."""
        return self.request.context_delta if self.request is not None else None


class StepNotReady(StepRefused):
    """The plane stayed NOT_READY (capacity, rate, budget, fair share) past the step's
    wait. Nothing ran and nothing was reported; asking again later is safe.

    Attributes:
        why: The server's last reason (`concurrency`, `rate_limit`, `budget`, ...).
    """

    reason = "not_ready"

    def __init__(self, message: str, *, why: str | None) -> None:
        super().__init__(message)
        self.why = why


def not_ready_pause(result: AuthorizeResult) -> float | None:
    """Seconds to wait before asking again when the answer is NOT_READY, else None.

    Readiness is operational, not authority: the step waits and asks again by itself.
    """
    if result.outcome != AuthorizeOutcome.NOT_READY:
        return None
    hint = result.retry_after  # the server's hint, in seconds
    pause = float(hint) if hint is not None else _NOT_READY_DEFAULT
    low, high = _NOT_READY_PAUSE
    return min(max(pause, low), high)


def plain(arguments: dict[str, Any]) -> dict[str, Any]:
    """A JSON-plain deep copy: exactly what the server receives, and what a human sees.

    Later mutation of the caller's dict cannot change what runs, and tuples and the like
    become what they are on the wire, so the local digest matches the server's.
    """
    copied = json.loads(json.dumps(arguments, allow_nan=False))
    if not isinstance(copied, dict):
        raise TypeError("arguments must be a JSON object")
    return copied


def settled(request: HumanRequest) -> bool:
    """Decided, and the outcome applied: an approval's grant is there to use."""
    if request.resolved_at is not None:
        return True
    if request.status is RequestStatus.PENDING:
        return False
    # Servers that do not stamp `resolved_at`: an approval counts once its grant exists.
    granting = request.status in (RequestStatus.APPROVED, RequestStatus.OVERRIDDEN)
    return not granting or request.grant is not None


def followed_by(request: HumanRequest) -> str | None:
    """The request an override's edit went on to (more authority, a second sign-off): a
    waiting agent follows it. A re-authorization by the agent itself is not followed."""
    if request.status is RequestStatus.SUPERSEDED and request.superseded_why not in (
        None,
        "reauthorized",
    ):
        return request.superseded_by
    return None


def request_to_wait_for(result: AuthorizeResult) -> HumanRequest | None:
    """The request to wait on, or None when the authorization already grants."""
    if result.outcome is AuthorizeOutcome.ALLOW:
        return None
    if result.request is None:
        raise StepRefused("PENDING authorization without a request", reason="no_request")
    return result.request


def refused(request: HumanRequest) -> bool:
    """Whether `request` ended without authority."""
    return request.status in _REFUSALS


def refusal_message(request: HumanRequest, decision: Decision | None = None) -> str:
    """Who refused and why, in words: "request r-1 for step deploy was REJECTED by alice
    (TECH_LEAD, via slack): not today" (the TypeScript and Go SDKs say the same)."""
    head = f"request {request.request_id} for step {request.step_id} was {request.status}"
    who = decision.human_actor_id if decision is not None else request.decided_by
    via = request.decided_via or (decision.channel if decision is not None else None)
    role = decision.role if decision is not None else None
    how = ", ".join(part for part in (role, f"via {via}" if via else None) if part)
    by = (f" by {who}" + (f" ({how})" if how else "")) if who else ""
    if decision is not None and decision.justification:
        why = decision.justification
    elif request.status is RequestStatus.EXPIRED:
        # As the API writes it (and the other SDKs show it): UTC with a Z.
        deadline = request.deadline.isoformat().replace("+00:00", "Z") if request.deadline else None
        why = f"nobody decided by {deadline}" if deadline else "nobody decided in time"
    elif request.status is RequestStatus.SUPERSEDED:
        why = f"replaced by {request.superseded_by or 'another request'}"
        if request.superseded_why:
            why += f" ({request.superseded_why})"
    elif request.status is RequestStatus.CANCELLED:
        why = "cancelled with its instance"
    else:
        why = "no justification given"
    return f"{head}{by}: {why}"


def outcome_of(request: HumanRequest, decision: Decision | None = None) -> None:
    """Raise the typed refusal for a request that ended without authority, saying who
    refused it and why (`decision`: the one that did, when the caller could read it)."""
    refusal = _REFUSALS.get(request.status)
    if refusal is not None:
        raise refusal(refusal_message(request, decision), request=request, decision=decision)


def bind(
    instance_id: str,
    step_id: str,
    action: str,
    requested: dict[str, Any],
    result: AuthorizeResult,
    request: HumanRequest | None,
    decision: Decision | None = None,
) -> GovernedStep:
    """Pick the arguments to run and check that the grant covers exactly them."""
    if request is None:
        grant, outcome, arguments = result.grant, str(AuthorizeOutcome.ALLOW), requested
    else:
        outcome_of(request, decision)
        grant, outcome = request.grant, str(request.status)
        # Only an OVERRIDE changes what runs; an approval covers what was asked, as asked.
        # An approved follow-up of an override carries the edit too (another request).
        asked = result.request if result is not None else None
        edited = request.status is RequestStatus.OVERRIDDEN or (
            asked is not None and request.request_id != asked.request_id
        )
        arguments = plain(grant.arguments) if edited and grant is not None else requested
    if grant is None:
        raise StepRefused(f"step {step_id} was not granted ({outcome})", reason="no_grant")
    check_grant(grant, step_id, action, arguments, request=request)
    digest = grant.args_digest
    return GovernedStep(
        instance_id=instance_id,
        step_id=step_id,
        action=action,
        arguments=arguments,
        args_digest=digest,
        grant=grant,
        outcome=outcome,
        request=request,
    )


def check_grant(
    grant: Grant,
    step_id: str,
    action: str,
    arguments: dict[str, Any],
    *,
    request: HumanRequest | None = None,
) -> None:
    """Raise `DigestMismatch` unless `grant` covers exactly this step and these arguments
    (the RFC 8785 digest computed here, with the server's own function)."""
    if grant.step_id != step_id:
        raise DigestMismatch(
            f"grant {grant.grant_id} is for step {grant.step_id}, not {step_id}",
            reason="grant_step_mismatch",
            request=request,
        )
    digest = args_digest(action, arguments)
    if digest != grant.args_digest:
        raise DigestMismatch(
            f"grant {grant.grant_id} covers {grant.args_digest}, "
            f"but the arguments to run hash to {digest}",
            request=request,
        )


def failure_detail(exc: BaseException) -> dict[str, Any]:
    """What STEP_FAILED says about an exception: its type only, never its message
    (messages often carry data a policy would redact)."""
    cls = type(exc)
    return {"error_type": f"{cls.__module__}.{cls.__qualname__}"}

"""Deciding human requests for the caller: the one path of a single decision
(`POST /v1/instances/{id}/decisions`) and of every item of a batch
(`POST /v1/decisions:batch`), so a batch can never decide what a single call would refuse.

A batch item is decided exactly as if alone: the caller's permission on its instance, the
instance's own checks (role, quorum, each human once, separation of duties, the digest
shown, staleness) and its idempotency. Whatever one item answers, the others are decided
on their own; the answer lists every item's outcome, and says in its status (207) and its
`refused` count when any was refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from typing import Any

from pydantic import BaseModel, Field

from gantral.api.authz import Caller, InstanceAccess
from gantral.api.errors import STATUS
from gantral.api.schemas import (
    MAX_BATCH_DECISIONS,
    BatchDecisionItem,
    BatchDecisionRequest,
    DecisionRequest,
)
from gantral.core import GantralCore
from gantral.domain.records import DecisionType
from gantral.errors import Conflict, Forbidden, GantralError, InvalidInput, Reason
from gantral.governance.delegation_book import DelegationBook
from gantral.identity import Permission
from gantral.workflows.messages import Decide, DecisionResult

__all__ = [
    "BatchDecisionResult",
    "BatchItemError",
    "BatchItemOutcome",
    "decide_as",
    "decide_batch",
]

# Items decided at once: each is one Temporal Update; more would only queue on 2 cores.
_CONCURRENCY = 8


async def decide_as(
    access: InstanceAccess,
    core: GantralCore,
    body: DecisionRequest,
    channel_ref: str | None = None,
    delegations: DelegationBook | None = None,
) -> DecisionResult:
    """Decide one request as `access`'s caller, already holding `decisions:decide` on the
    instance. A refusal by the instance's own checks is recorded in the access log.

    A deputy names the delegator in `on_behalf_of`: the delegation in effect now is
    resolved here (`delegations`), then checked and recorded by the workflow, so replay
    reproduces it."""
    if body.decision_type is DecisionType.OVERRIDE:
        await access.require(Permission.DECISIONS_OVERRIDE, body.request_id)
    delegated = None
    if body.on_behalf_of is not None:
        if delegations is None:
            raise InvalidInput(
                "on_behalf_of: a deputy decides one request at a time",
                reason=Reason.INVALID_INPUT,
                field="on_behalf_of",
            )
        try:
            delegated = await delegations.resolve(access.actor.id, body.on_behalf_of, access.team)
        except Forbidden as refused:
            attempted = f"{body.decision_type} for {body.on_behalf_of} on {body.request_id}"
            await access.caller.record(access.instance_id, attempted, refused, body.request_id)
            raise
    decision = Decide(
        request_id=body.request_id,
        decision_type=body.decision_type,
        actor=access.actor,
        role=body.role,
        justification=body.justification,
        context_delta=body.context_delta,
        idempotency_key=body.idempotency_key,
        seen_args_digest=body.seen_args_digest,
        channel=body.channel,
        channel_ref=channel_ref,
        standing=body.standing,
        on_behalf_of=delegated,
    )
    try:
        return await core.decide(access.instance_id, decision)
    except (Forbidden, Conflict, InvalidInput) as refused:
        # Refused by the instance's own checks (role, quorum, separation of duties...).
        attempted = f"{decision.decision_type} as {body.role or 'any role'} on {body.request_id}"
        await access.caller.record(access.instance_id, attempted, refused, body.request_id)
        raise


class BatchItemError(BaseModel):
    """A refused item's error: the body the decision would have answered alone."""

    error: str = Field(description="invalid_input, not_found, conflict, forbidden, ...")
    # A plain string here, not the `ErrorReason` enum: a client reading a whole batch must
    # not fail on a reason newer than itself.
    reason: str = Field(description="An `ErrorReason` (specs/reasons.json): stale, ...")
    message: str
    details: dict[str, Any] | None = None


class BatchItemOutcome(BaseModel):
    """One request's outcome: decided (`result`), or refused (`error`), as alone."""

    instance_id: str
    request_id: str
    status: int = Field(
        description="The HTTP status this decision would have answered alone: 200 when "
        "decided, else the error's (403, 404, 409, 422, 503)."
    )
    result: DecisionResult | None = None
    error: BatchItemError | None = None


class BatchDecisionResult(BaseModel):
    """Every item's outcome, in the order sent. Answered 200 only when every item was
    decided; 207 when any was refused (`refused` > 0), so no refusal passes unseen."""

    decided: int
    refused: int
    items: list[BatchItemOutcome]


def check_batch(body: BatchDecisionRequest) -> None:
    """Refuse the whole batch, deciding nothing, when it is too large or names a request
    twice (two outcomes for one request would contradict each other)."""
    if len(body.items) > MAX_BATCH_DECISIONS:
        raise InvalidInput(
            f"a batch decides at most {MAX_BATCH_DECISIONS} requests; this one names "
            f"{len(body.items)}: send several batches",
            reason=Reason.BATCH_TOO_LARGE,
            limit=MAX_BATCH_DECISIONS,
        )
    seen: set[tuple[str, str]] = set()
    for item in body.items:
        ref = (item.instance_id, item.request_id)
        if ref in seen:
            # Each item is valid alone; only their pairing contradicts: 409, as other
            # cross-field rules (no schema can say "unique by request").
            raise Conflict(
                f"{item.instance_id}/{item.request_id} is named more than once in the batch",
                reason=Reason.DUPLICATE_IN_BATCH,
                instance_id=item.instance_id,
                request_id=item.request_id,
            )
        seen.add(ref)


def _batch_ref(caller: Caller, key: str) -> str:
    """Recorded with each decision of a batch (its channel_ref): the decisions one batch
    made share it, and it names no more than the caller and key already do."""
    digest = hashlib.sha256(f"{caller.actor.id}\x00{key}".encode()).hexdigest()
    return f"batch:{digest[:24]}"


async def decide_batch(
    caller: Caller, core: GantralCore, body: BatchDecisionRequest
) -> BatchDecisionResult:
    """Decide every item of a checked batch, each as if alone; never raises for one item."""
    check_batch(body)
    ref = _batch_ref(caller, body.idempotency_key)
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(item: BatchDecisionItem) -> BatchItemOutcome:
        async with gate:
            try:
                result = await _decide_item(caller, core, body, item, ref)
            except GantralError as exc:
                status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
                return BatchItemOutcome(
                    instance_id=item.instance_id,
                    request_id=item.request_id,
                    status=status,
                    error=BatchItemError.model_validate(exc.to_dict()),
                )
        return BatchItemOutcome(
            instance_id=item.instance_id, request_id=item.request_id, status=200, result=result
        )

    outcomes = await asyncio.gather(*(one(item) for item in body.items))
    decided = sum(1 for o in outcomes if o.error is None)
    return BatchDecisionResult(decided=decided, refused=len(outcomes) - decided, items=outcomes)


async def _decide_item(
    caller: Caller,
    core: GantralCore,
    body: BatchDecisionRequest,
    item: BatchDecisionItem,
    ref: str,
) -> DecisionResult:
    # The same permission check as the single route's (`authz.Decides`), for this item's
    # instance: an instance the caller may not read is 404 for the item, as alone.
    item_caller = dataclasses.replace(caller, request_id=item.request_id)
    team = await item_caller.instance_team(item.instance_id, Permission.DECISIONS_DECIDE)
    single = DecisionRequest(
        request_id=item.request_id,
        decision_type=body.decision_type,
        role=body.role,
        justification=body.justification,
        # Each item's own scope is (caller, request, key): a repeat of the batch is a
        # repeat of each of its decisions, answered by the instance as alone.
        idempotency_key=body.idempotency_key,
        seen_args_digest=item.seen_args_digest,
        channel=body.channel,
    )
    access = InstanceAccess(item_caller, item.instance_id, team)
    return await decide_as(access, core, single, channel_ref=ref)

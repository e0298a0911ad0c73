"""`/v1/decisions:batch`: one human decision for several requests, each decided as alone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from gantral.api.authz import CurrentCaller
from gantral.api.deciding import BatchDecisionResult, decide_batch
from gantral.api.deps import Core
from gantral.api.schemas import MAX_BATCH_DECISIONS, BatchDecisionRequest
from gantral.identity import Permission

router = APIRouter(tags=["decisions"])

ERRORS: dict[int | str, dict[str, Any]] = {
    207: {
        "description": "Some requests were refused (`refused` > 0): each item says whether "
        "it was decided, or its error as it would have answered alone. The others are decided.",
        "model": BatchDecisionResult,
    },
    403: {"description": "The caller may decide for no team at all (nothing decided)"},
    409: {"description": "A request named twice (`duplicate_in_batch`): nothing decided"},
    422: {
        "description": f"Malformed, or more than {MAX_BATCH_DECISIONS} requests "
        "(`batch_too_large`): nothing decided"
    },
}


@router.post("/v1/decisions:batch", responses=ERRORS)
async def decide_requests(
    body: BatchDecisionRequest, core: Core, caller: CurrentCaller, response: Response
) -> BatchDecisionResult:
    """APPROVE or REJECT several requests, each decided exactly as if decided alone.

    Each item passes the single decision's checks on its own: `decisions:decide` on its
    instance's team, the instance's role, quorum, each-human-once and separation of duties
    rules, and the `seen_args_digest` it names (stale: refused). 200 only when every item
    was decided; 207 when any was refused, with each item's outcome in order. A repeat with
    the same `idempotency_key` answers the same outcomes.
    """
    await caller.check(Permission.DECISIONS_DECIDE)  # some team at all, or 403
    result = await decide_batch(caller, core, body)
    if result.refused:
        response.status_code = status.HTTP_207_MULTI_STATUS
    return result

"""`GET /v1/readiness/{instance_id}`: may the instance advance now, and if not, why.

Read-only, with `instances:read` on the instance's team (`gantral.api.authz.ReadsInstance`).
Readiness is derived on each call and never recorded (reference §3.4).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gantral.api.authz import InstanceId, ReadsInstance
from gantral.api.deps import Core
from gantral.api.metrics import ApiMetrics
from gantral.readiness.explain import ReadinessView, explain_instance
from gantral.readiness.gate import ReadinessGate
from gantral.readiness.verdict import Verdict

__all__ = ["MetricsObserver", "get_gate", "router"]

router = APIRouter(prefix="/v1/readiness", tags=["readiness"])

ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "No valid bearer token (the reason says why)"},
    404: {"description": "Unknown instance, or not visible to the caller"},
    422: {"description": "Malformed request"},
}
_NAME = r"^[A-Za-z0-9_.:@-]+$"


async def get_gate(request: Request) -> ReadinessGate:
    gate: ReadinessGate = request.app.state.readiness
    return gate


Gate = Annotated[ReadinessGate, Depends(get_gate)]


@router.get("/{instance_id}", responses=ERRORS)
async def readiness(
    instance_id: InstanceId,
    core: Core,
    gate: Gate,
    _: ReadsInstance,
    agent: Annotated[str | None, Query(max_length=200, pattern=_NAME)] = None,
    step: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")] = None,
) -> ReadinessView:
    """Runnable now? State, pending human request and capacity (limits, budget, fair
    order), for the next governed step of `agent` (default: who started the instance)."""
    view = await core.get_instance(instance_id)
    return await explain_instance(gate, view, agent_id=agent, step_id=step)


class MetricsObserver:
    """Counts blocked steps by reason and shows budget use per team in `/metrics`."""

    def __init__(self, metrics: ApiMetrics) -> None:
        self._metrics = metrics

    def blocked(self, verdict: Verdict) -> None:
        self._metrics.readiness_blocked.labels(verdict.reason).inc()

    def budget_used(self, team: str, unit: str, used: float, limit: float | None) -> None:
        self._metrics.budget_used.labels(team, unit).set(used)
        if limit is not None:
            self._metrics.budget_limit.labels(team, unit).set(limit)

"""`runnable(instance)` (reference §3.4), explained for operators.

    runnable = state is RUNNING and no human request is pending and capacity is available

Computed on every read from the instance's view and the gate's counters; nothing here
is stored, and nothing reaches the instance's history or its audit log.
"""

from __future__ import annotations

from pydantic import BaseModel

from gantral.domain.states import State
from gantral.readiness.gate import ReadinessGate
from gantral.readiness.verdict import Ask, Verdict
from gantral.workflows.messages import InstanceView

__all__ = ["CapacityCheck", "CapacityVerdict", "ReadinessView", "explain_instance"]

# The step an explanation asks about when none is named: counts no slot as its own.
NEXT_STEP = "*next"


class CapacityCheck(BaseModel):
    scope: str
    kind: str
    limit: float
    used: float
    ok: bool
    retry_after: float


class CapacityVerdict(BaseModel):
    ready: bool
    reason: str
    retry_after: float
    scope: str | None
    message: str
    rules_version: int | None
    checks: list[CapacityCheck]

    @classmethod
    def of(cls, verdict: Verdict) -> CapacityVerdict:
        return cls.model_validate(verdict.to_dict())


class ReadinessView(BaseModel):
    """Whether the instance can advance now, and every reason it cannot."""

    instance_id: str
    runnable: bool
    state: State
    pending_request_id: str | None
    # Why not runnable: `state`, `pending_request`, or the capacity verdict's reason.
    blocked_by: list[str]
    team: str
    workflow_id: str
    agent_id: str
    step_id: str | None
    capacity: CapacityVerdict


async def explain_instance(
    gate: ReadinessGate, view: InstanceView, *, agent_id: str | None, step_id: str | None
) -> ReadinessView:
    """The verdict for the instance's next governed step (or `step_id`), by `agent_id`
    (default: whoever started the instance). Reserves nothing."""
    agent = agent_id or view.started_by.id
    ask = Ask(view.instance_id, step_id or NEXT_STEP, view.owning_team_id, view.workflow_id, agent)
    verdict = await gate.explain(ask)
    blocked = []
    if view.state is not State.RUNNING:
        blocked.append("state")
    if view.pending_request is not None:
        blocked.append("pending_request")
    if not verdict.ready:
        blocked.append(verdict.reason)
    return ReadinessView(
        instance_id=view.instance_id,
        runnable=not blocked,
        state=view.state,
        pending_request_id=view.pending_request.request_id if view.pending_request else None,
        blocked_by=blocked,
        team=view.owning_team_id,
        workflow_id=view.workflow_id,
        agent_id=agent,
        step_id=step_id,
        capacity=CapacityVerdict.of(verdict),
    )

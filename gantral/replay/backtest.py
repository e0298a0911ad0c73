"""Policy backtest: what a candidate policy would have decided at every recorded decision
point, compared with what was decided.

A decision point is one authorize call as the audit log recorded it (POLICY_EVALUATED):
its step, the facts the policy read (the bound arguments, the trigger context fixed at
start, team, workflow), the recorded outcome, and the approvers the request needed.
Evaluation is the workflow's own pure `plan_request(policy, step_facts(...))`, so the
backtest is exact: a difference here is a difference the candidate would have made.

Arguments are taken only where the record proves them: the request's context snapshot
(or the authorize call in the instance's history), accepted only if they hash to the
recorded `args_digest`. A point whose arguments cannot be proven is counted as
`unrecoverable`, never guessed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gantral.policy.evaluate import plan_request
from gantral.policy.facts import step_facts
from gantral.policy.models import Policy
from gantral.policy.plan import RequestPlan

__all__ = ["BacktestReport", "Change", "DecisionPoint", "backtest"]

ChangeKind = Literal["outcome", "materiality", "approvers", "deadline"]
# Examples kept per kind of change; counts cover every point.
MAX_EXAMPLES = 20


class DecisionPoint(BaseModel):
    instance_id: str
    seq: int
    at: str
    step_id: str
    workflow_id: str
    team: str
    trigger: dict[str, Any]
    args_digest: str
    arguments: dict[str, Any] | None
    """None when no record proves them (the point is then unrecoverable)."""
    requires_human: bool
    materiality: str
    approvers: list[str] | None
    """The roles the request needed first (None: allowed, or not recorded)."""
    pinned: Policy | None = None
    """The policy the instance pinned for this step, when its history is at hand."""


class Change(BaseModel):
    kind: ChangeKind
    instance_id: str
    seq: int
    step_id: str
    recorded: Any
    candidate: Any


class BacktestReport(BaseModel):
    policy_id: str
    candidate_hash: str
    workflow_id: str | None
    since: str | None
    instances: int
    decision_points: int
    """Decision points at the steps the policy governed (or at the step named)."""
    other_policies: int = 0
    """Decision points at steps another policy governed: not evaluated, not counted above."""
    evaluated: int
    unrecoverable: int
    unchanged: int
    changed: int
    """Decision points where at least one kind of change occurs."""
    counts: dict[str, int] = Field(default_factory=dict)
    """Per kind: outcome (allowed vs pending), materiality, approvers, deadline."""
    examples: list[Change] = Field(default_factory=list)


def backtest(
    policy_id: str,
    candidate: Policy,
    points: list[DecisionPoint],
    *,
    instances: int,
    workflow_id: str | None = None,
    since: str | None = None,
) -> BacktestReport:
    report = BacktestReport(
        policy_id=policy_id,
        candidate_hash=candidate.content_hash(),
        workflow_id=workflow_id,
        since=since,
        instances=instances,
        decision_points=len(points),
        evaluated=0,
        unrecoverable=0,
        unchanged=0,
        changed=0,
        counts={"outcome": 0, "materiality": 0, "approvers": 0, "deadline": 0},
    )
    for point in points:
        if point.arguments is None:
            report.unrecoverable += 1
            continue
        report.evaluated += 1
        changes = compare_point(point, candidate)
        if not changes:
            report.unchanged += 1
            continue
        report.changed += 1
        for change in changes:
            report.counts[change.kind] += 1
            if sum(e.kind == change.kind for e in report.examples) < MAX_EXAMPLES:
                report.examples.append(change)
    return report


def compare_point(point: DecisionPoint, candidate: Policy) -> list[Change]:
    """Every way the candidate's plan differs from what was recorded at this point."""
    assert point.arguments is not None
    facts = step_facts(
        arguments=point.arguments,
        trigger_context=point.trigger,
        owning_team_id=point.team,
        workflow_id=point.workflow_id,
    )
    plan = plan_request(candidate, facts)
    pinned = plan_request(point.pinned, facts) if point.pinned is not None else None

    def change(kind: ChangeKind, recorded: Any, new: Any) -> Change:
        return Change(kind=kind, instance_id=point.instance_id, seq=point.seq,
                      step_id=point.step_id, recorded=recorded, candidate=new)  # fmt: skip

    out = []
    if plan.requires_human != point.requires_human:
        out.append(change("outcome", _outcome(point.requires_human), _outcome(plan.requires_human)))
    if str(plan.materiality) != point.materiality:
        out.append(change("materiality", point.materiality, str(plan.materiality)))
    if plan.requires_human and point.requires_human:
        before = point.approvers if point.approvers is not None else _roles(pinned)
        if before is not None and plan.eligible_roles(0) != before:
            out.append(change("approvers", before, plan.eligible_roles(0)))
        if pinned is not None and _deadlines(pinned) != _deadlines(plan):
            out.append(change("deadline", _deadlines(pinned), _deadlines(plan)))
    return out


def _outcome(requires_human: bool) -> str:
    return "PENDING" if requires_human else "ALLOW"


def _roles(plan: RequestPlan | None) -> list[str] | None:
    return plan.eligible_roles(0) if plan is not None and plan.requires_human else None


def _deadlines(plan: RequestPlan) -> list[str | None]:
    """Each tier's deadline after the request (ISO 8601 seconds; None: no deadline)."""
    out: list[str | None] = []
    for i in range(len(plan.tiers)):
        after = plan.deadline_after(i)
        out.append(None if after is None else f"PT{int(after.total_seconds())}S")
    return out

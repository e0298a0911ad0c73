"""The agent protocol: authorizing a step (a grant, or a human request) and reporting step
events and cost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gantral.domain.audit_payloads import (
    AgentEventRecorded,
    AllowedByBreakGlass,
    AllowedByStandingGrant,
    CostReported,
    GrantUsed,
    PolicyEvaluated,
    RequestSuperseded,
    ShadowEvaluated,
    ViolationRecorded,
)
from gantral.domain.costs import add_cost, cost_problem
from gantral.domain.digest import args_digest
from gantral.domain.records import Grant, HumanRequest, RequestStatus
from gantral.domain.states import State
from gantral.errors import Reason
from gantral.governance.break_glass import BreakGlassUse
from gantral.governance.standing import StandingUse, matches
from gantral.policy.evaluate import RequestPlan, plan_request
from gantral.policy.materiality import Materiality
from gantral.policy.shadow import outcome_of, shadow_outcome
from gantral.workflows.messages import (
    AgentEvent,
    AgentEventKind,
    AgentEventResult,
    AuthorizeOutcome,
    AuthorizeResult,
    AuthorizeStep,
)
from gantral.workflows.refusals import conflict, invalid, not_found
from gantral.workflows.state.core import IdSource
from gantral.workflows.state.requests import Requests, RequestSpec

__all__ = ["MAX_REQUESTS", "AgentProtocol", "Authorized"]

# Bounds what one instance holds (and its history); continue-as-new lifts it (issue 11).
MAX_REQUESTS = 500


@dataclass(frozen=True)
class Authorized:
    """An authorization's answer, and the grant to activate once the log is stored."""

    result: AuthorizeResult
    grant: Grant | None = None


class AgentProtocol(Requests):
    """What an agent asks and reports; a step needing a human opens a request."""

    def check_authorize(self, req: AuthorizeStep) -> None:
        if self.start.template.step(req.step_id) is None:
            raise not_found(
                Reason.UNKNOWN_STEP,
                f"step {req.step_id} is not in workflow {self.start.template.id}",
            )
        if len(self.data.requests) >= MAX_REQUESTS:
            raise conflict(
                Reason.TOO_MANY_REQUESTS,
                f"instance has had {MAX_REQUESTS} human requests; start a new instance",
            )
        if self.state is State.WAITING_FOR_HUMAN:
            pending = self.pending
            if pending is not None and pending.step_id != req.step_id:
                raise conflict(
                    Reason.NOT_RUNNING,
                    f"instance is waiting for a decision on step {pending.step_id}",
                )
            holder = pending.grant_holder if pending is not None else None
            if holder is not None and holder != req.actor.id:
                # Another agent of the team must not wipe this request's approvals.
                raise conflict(
                    Reason.PENDING_FOR_OTHER_PRINCIPAL,
                    f"step {req.step_id} awaits a decision requested by another principal",
                )
        elif self.state is not State.RUNNING:
            raise conflict(Reason.NOT_RUNNING, f"instance is {self.state}")

    def authorize(self, req: AuthorizeStep, now: datetime, ids: IdSource) -> Authorized:
        """Evaluate the pinned policy on the step's bound facts: ALLOW with a grant (to be
        activated once audited), or a human request (superseding a pending one)."""
        step = self.start.template.step(req.step_id)
        assert step is not None  # check_authorize refused unknown steps
        action = req.action or req.step_id
        digest = args_digest(action, req.arguments)
        facts = self.facts(req.arguments)
        plan = plan_request(step.policy, facts)
        self.log.record(
            PolicyEvaluated(
                step_id=req.step_id,
                args_digest=digest,
                materiality=plan.materiality,
                requires_human=plan.requires_human,
                explanation=plan.explanation,
            ),
            req.actor,
            now,
        )
        shadow = self.start.shadows.get(req.step_id)
        if shadow is not None:  # recorded only: `plan` alone decides below
            outcome = shadow_outcome(shadow, facts, plan)
            payload = ShadowEvaluated(step_id=req.step_id, args_digest=digest, **outcome)
            self.log.record(payload, req.actor, now)
        self.remember(req.step_id, outcome_of(plan), req.arguments)
        pending = self.pending
        if pending is not None and pending.args_digest == digest:
            return Authorized(_pending_result(pending, plan))
        standing = req.standing
        served = plan.requires_human and pending is None and standing is not None
        if served and standing is not None and self._standing_serves(req, plan, standing, now):
            grant = self.issue_grant(
                req.step_id, None, action, req.arguments, plan, req.actor.id, now, ids
            )
            used = AllowedByStandingGrant(
                step_id=req.step_id, args_digest=digest, grant_id=grant.grant_id,
                standing_id=standing.standing_id, approver=standing.approver,
                approver_role=standing.approver_role, use=standing.use,
                max_uses=standing.max_uses, expires_at=standing.expires_at,
            )  # fmt: skip
            self.log.record(used, req.actor, now)
            explanation = [
                *plan.explanation,
                f"allowed without a human by standing grant {standing.standing_id} of "
                f"{standing.approver} (use {standing.use} of {standing.max_uses})",
            ]
            result = AuthorizeResult(
                outcome=AuthorizeOutcome.ALLOW, step_id=req.step_id, args_digest=digest,
                materiality=plan.materiality, explanation=explanation, grant=grant,
                standing_id=standing.standing_id,
            )  # fmt: skip
            return Authorized(result, grant)
        glass = req.break_glass
        if plan.requires_human and pending is None and _glass_serves(glass, plan, now):
            assert glass is not None
            return self._allow_by_glass(req, plan, glass, digest, now, ids)
        if not plan.requires_human:
            grant = self.issue_grant(
                req.step_id, None, action, req.arguments, plan, req.actor.id, now, ids
            )
            result = AuthorizeResult(
                outcome=AuthorizeOutcome.ALLOW,
                step_id=req.step_id,
                args_digest=digest,
                materiality=plan.materiality,
                explanation=plan.explanation,
                grant=grant,
            )
            return Authorized(result, grant)
        spec = RequestSpec(
            step_id=req.step_id, action=action, arguments=req.arguments, context=req.context,
            requested_by=req.actor, plan=plan, redacted=req.redacted,
        )  # fmt: skip
        request = self.open_request(spec, now, ids)
        if pending is not None:
            pending.status = RequestStatus.SUPERSEDED
            pending.superseded_by, pending.superseded_why = request.request_id, "reauthorized"
            pending.resolved_at = now
            self.log.record(
                RequestSuperseded(request_id=pending.request_id, superseded_by=request.request_id),
                req.actor,
                now,
            )
        else:
            self.move(
                State.WAITING_FOR_HUMAN,
                "policy requires a human decision",
                req.actor,
                now,
                request.request_id,
            )
        return Authorized(_pending_result(request, plan))

    def _allow_by_glass(
        self,
        req: AuthorizeStep,
        plan: RequestPlan,
        glass: BreakGlassUse,
        digest: str,
        now: datetime,
        ids: IdSource,
    ) -> Authorized:
        """ALLOW without the human the policy asks for, marked in the log as a step
        taken under the break-glass, with its quorum."""
        action = req.action or req.step_id
        grant = self.issue_grant(
            req.step_id, None, action, req.arguments, plan, req.actor.id, now, ids
        )
        used = AllowedByBreakGlass(
            step_id=req.step_id, args_digest=digest, grant_id=grant.grant_id,
            break_glass_id=glass.break_glass_id, approvers=glass.approvers,
            expires_at=glass.expires_at, materiality=str(plan.materiality),
        )  # fmt: skip
        self.log.record(used, req.actor, now)
        explanation = [
            *plan.explanation,
            f"allowed without a human under break-glass {glass.break_glass_id} of "
            f"{', '.join(sorted(glass.approvers))}",
        ]
        result = AuthorizeResult(
            outcome=AuthorizeOutcome.ALLOW, step_id=req.step_id, args_digest=digest,
            materiality=plan.materiality, explanation=explanation, grant=grant,
            break_glass_id=glass.break_glass_id,
        )  # fmt: skip
        return Authorized(result, grant)

    def _standing_serves(
        self, req: AuthorizeStep, plan: RequestPlan, standing: StandingUse, now: datetime
    ) -> bool:
        """Whether the standing grant the API matched still serves this call, re-checked
        against the pinned policy: allowed here, not CRITICAL, no more material than what
        was approved, unexpired, and the arguments inside its pattern."""
        step = self.start.template.step(req.step_id)
        return (
            step is not None
            and step.policy.standing is not None
            and plan.materiality is not Materiality.CRITICAL
            and plan.materiality.rank <= standing.materiality.rank
            and now < standing.expires_at
            and standing.use <= standing.max_uses
            and matches(standing.pattern, req.arguments)
        )

    def check_report(self, event: AgentEvent) -> None:
        if self.terminal:
            raise conflict(Reason.TERMINAL, f"instance is {self.state}")
        if event.kind is not AgentEventKind.COST and not event.step_id:
            raise invalid(Reason.STEP_ID_REQUIRED, f"{event.kind} needs a step_id")
        if event.kind is AgentEventKind.COST and event.cost is None:
            raise invalid(Reason.COST_REQUIRED, "COST needs a cost")
        if event.cost is not None:
            # Checked against the total here, where it is known: the API is not the only
            # client, and a total that overflowed would make every view unreadable.
            problem = cost_problem(self.data.cost, event.cost)
            if problem is not None:
                raise invalid(*problem)

    def report(self, event: AgentEvent, now: datetime) -> AgentEventResult | tuple[Reason, str]:
        """Record a step event or cost. A step event that would pass a governed state
        without authority is recorded as a VIOLATION and returned as (reason, message)."""
        if event.kind is not AgentEventKind.COST:
            violation = self._step_violation(event, now)
            dumped = event.model_dump(mode="json", exclude={"actor", "attestation"})
            if violation is not None:
                reason, message = violation
                refused = ViolationRecorded(reason=reason, message=message, event=dumped)
                self.log.record(refused, event.actor, now)
                return violation
            if event.kind is AgentEventKind.STEP_STARTED and event.grant_id:
                used = GrantUsed(grant_id=event.grant_id, step_id=event.step_id)
                self.log.record(used, event.actor, now)
            self.log.record(AgentEventRecorded.model_validate(dumped), event.actor, now)
        # Cost counts whichever event carries it: never dropped.
        if event.cost is not None:
            self.data.cost = add_cost(self.data.cost, event.cost)
            cost = CostReported.model_validate(event.cost.model_dump())
            self.log.record(cost, event.actor, now)
        return AgentEventResult(accepted=True, state=self.state, cost=self.data.cost)

    def _step_violation(self, event: AgentEvent, now: datetime) -> tuple[Reason, str] | None:
        """Why this step event would pass a governed state without authority, if it would."""
        if self.state is not State.RUNNING:
            return (
                Reason.NOT_RUNNING,
                f"instance is {self.state}: the agent cannot advance on its own",
            )
        assert event.step_id is not None
        step = self.start.template.step(event.step_id)
        if step is None:
            return (
                Reason.UNKNOWN_STEP,
                f"step {event.step_id} is not in workflow {self.start.template.id}",
            )
        if event.kind is AgentEventKind.STEP_STARTED and (step.governed or event.grant_id):
            return self.data.grants.use(
                event.step_id, event.grant_id, event.args_digest, now, event.actor.id
            )
        if (
            event.kind is AgentEventKind.STEP_COMPLETED
            and step.governed
            and not self.data.grants.started(event.step_id)
        ):
            return (
                Reason.NOT_AUTHORIZED,
                f"step {event.step_id} needs an authorized start before completion",
            )
        return None


def _glass_serves(glass: BreakGlassUse | None, plan: RequestPlan, now: datetime) -> bool:
    """Whether the break-glass the API passed still serves, by the workflow's own clock:
    unexpired, and CRITICAL only when the deployment said so."""
    if glass is None:
        return False
    critical = plan.materiality is Materiality.CRITICAL
    return now < glass.expires_at and (glass.critical or not critical)


def _pending_result(request: HumanRequest, plan: RequestPlan) -> AuthorizeResult:
    return AuthorizeResult(
        outcome=AuthorizeOutcome.PENDING,
        step_id=request.step_id,
        args_digest=request.args_digest,
        materiality=plan.materiality,
        explanation=plan.explanation,
        # A snapshot: the answer is sent after the audit flush, and a racing decision
        # must not change what this call answered.
        request=request.model_copy(deep=True),
    )

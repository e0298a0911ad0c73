"""The governed instance: one Temporal workflow execution per instance.

HITL is a state inside this workflow. Decisions arrive as Updates whose validators refuse
what is not allowed before anything reaches history; reads are Queries; deadlines are
`wait_condition` timers. Every transition goes through the one table in
`gantral.domain.states`, and every fact is delivered to the audit sink before the
workflow moves past it.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from gantral.domain.actors import SYSTEM_ACTOR, Actor
    from gantral.domain.audit_event import AuditEventType
    from gantral.domain.digest import args_digest
    from gantral.domain.records import (
        Cost,
        Decision,
        Grant,
        HumanRequest,
        RequestStatus,
        TransitionRecord,
    )
    from gantral.domain.states import TERMINAL_STATES, State, is_allowed
    from gantral.policy.evaluate import (
        RequestPlan,
        plan_request,
    )
    from gantral.workflows import search
    from gantral.workflows.audit_outbox import AuditOutbox
    from gantral.workflows.decision_checks import check_decision
    from gantral.workflows.escalation import Escalation
    from gantral.workflows.grants import GrantBook
    from gantral.workflows.messages import (
        WORKFLOW_NAME,
        AgentEvent,
        AgentEventKind,
        AgentEventResult,
        AuthorizeOutcome,
        AuthorizeResult,
        AuthorizeStep,
        Decide,
        DecisionResult,
        Finish,
        FinishKind,
        InstanceView,
        Refusal,
        StartInstance,
    )
    from gantral.workflows.refusals import conflict, invalid, not_found
    from gantral.workflows.requests import HumanRequests

_OUTCOME_STATE = {
    RequestStatus.APPROVED: State.APPROVED,
    RequestStatus.REJECTED: State.REJECTED,
    RequestStatus.OVERRIDDEN: State.OVERRIDDEN,
    RequestStatus.EXPIRED: State.EXPIRED,
}


@workflow.defn(name=WORKFLOW_NAME)
class InstanceWorkflow(HumanRequests, Escalation):
    @workflow.init
    def __init__(self, start: StartInstance) -> None:
        self._start = start
        self._state = State.CREATED
        self._created_at = workflow.now()
        self._updated_at = self._created_at
        self._transitions: list[TransitionRecord] = []
        self._requests: dict[str, HumanRequest] = {}
        self._plans: dict[str, RequestPlan] = {}
        self._pending_id: str | None = None
        self._supervised_id: str | None = None
        self._decisions: list[Decision] = []
        self._by_key: dict[str, DecisionResult] = {}
        self._grants = GrantBook()
        self._cost = Cost()
        self._outbox = AuditOutbox(start.instance_id, start.audit_task_queue)

    # -- lifecycle ----------------------------------------------------------------------

    @workflow.run
    async def run(self, start: StartInstance) -> InstanceView:
        self._outbox.record(
            AuditEventType.INSTANCE_STARTED,
            start.started_by,
            {
                "workflow_id": start.template.id,
                "workflow_version": start.template.version,
                "template_hash": start.template_hash,
                "owning_team_id": start.owning_team_id,
                "trigger_context": start.trigger_context,
            },
        )
        await self._move(State.RUNNING, "instance started", start.started_by)
        while self._state not in TERMINAL_STATES:
            await workflow.wait_condition(
                lambda: self._state in TERMINAL_STATES or self._unsupervised() is not None
            )
            request = self._unsupervised()
            if request is not None:
                self._supervised_id = request.request_id
                await self._supervise(request)
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._outbox.record(AuditEventType.INSTANCE_SEALED, SYSTEM_ACTOR, {"state": self._state})
        await self._outbox.flush()
        return self.view()

    async def _move(
        self, target: State, cause: str, actor: Actor, request_id: str | None = None
    ) -> None:
        self._record_move(target, cause, actor, request_id)
        await self._outbox.flush()

    def _record_move(
        self, target: State, cause: str, actor: Actor, request_id: str | None = None
    ) -> None:
        """Synchronous, so concurrent validators already see the new state."""
        if not is_allowed(self._state, target):
            raise conflict("illegal_transition", f"{self._state} -> {target} is not allowed")
        record = TransitionRecord(
            seq=len(self._transitions) + 1,
            from_state=self._state,
            to_state=target,
            cause=cause,
            actor=actor,
            at=workflow.now(),
            request_id=request_id,
        )
        self._transitions.append(record)
        self._state = target
        self._updated_at = record.at
        self._outbox.record(
            AuditEventType.STATE_TRANSITION,
            actor,
            record.model_dump(mode="json", exclude={"actor"}),
        )
        self._publish()

    async def _apply_outcome(self, request: HumanRequest, actor: Actor, cause: str) -> None:
        """From WAITING_FOR_HUMAN to RUNNING (approved, overridden) or TERMINATED."""
        self._pending_id = None
        rid = request.request_id
        self._record_move(_OUTCOME_STATE[request.status], cause, actor, rid)
        if request.status in (RequestStatus.APPROVED, RequestStatus.OVERRIDDEN):
            request.grant = self._issue_grant(
                request.step_id, rid, request.action, request.arguments, self._plans[rid]
            )
            self._record_move(State.RESUMED, "execution resumes", SYSTEM_ACTOR, rid)
            self._record_move(State.RUNNING, "agent continues", SYSTEM_ACTOR, rid)
        else:
            self._record_move(
                State.TERMINATED, f"{request.status.lower()} ends the instance", SYSTEM_ACTOR, rid
            )
        await self._outbox.flush()
        request.resolved_at = workflow.now()

    def _issue_grant(
        self,
        step_id: str,
        request_id: str | None,
        action: str,
        arguments: dict[str, Any],
        plan: RequestPlan,
    ) -> Grant:
        grant = self._grants.issue(
            grant_id=f"grant_{workflow.uuid4().hex}",
            step_id=step_id,
            request_id=request_id,
            action=action,
            arguments=arguments,
            expires_at=workflow.now() + plan.grant_ttl,
        )
        self._outbox.record(
            AuditEventType.GRANT_ISSUED,
            SYSTEM_ACTOR,
            grant.model_dump(mode="json", exclude={"arguments"}),
        )
        return grant

    def _publish(self) -> None:
        pending = self._requests.get(self._pending_id) if self._pending_id else None
        search.publish(self._start, self._state, pending)

    # -- agent protocol -----------------------------------------------------------------

    @workflow.update
    async def authorize(self, req: AuthorizeStep) -> AuthorizeResult:
        step = self._start.template.step(req.step_id)
        assert step is not None  # the validator refused unknown steps
        action = req.action or req.step_id
        digest = args_digest(action, req.arguments)
        plan = plan_request(step.policy, {**req.context, "arguments": req.arguments})
        self._outbox.record(
            AuditEventType.POLICY_EVALUATED,
            req.actor,
            {
                "step_id": req.step_id,
                "args_digest": digest,
                "materiality": plan.materiality,
                "requires_human": plan.requires_human,
                "explanation": plan.explanation,
            },
        )
        pending = self._requests.get(self._pending_id) if self._pending_id else None
        if pending is not None and pending.args_digest == digest:
            await self._outbox.flush()
            return self._pending_result(pending, plan)
        if not plan.requires_human:
            grant = self._issue_grant(req.step_id, None, action, req.arguments, plan)
            await self._outbox.flush()
            return AuthorizeResult(
                outcome=AuthorizeOutcome.ALLOW,
                step_id=req.step_id,
                args_digest=digest,
                materiality=plan.materiality,
                explanation=plan.explanation,
                grant=grant,
            )
        request = self._open_request(
            req.step_id, action, req.arguments, req.context, req.actor, plan,
            redacted=req.redacted,
        )  # fmt: skip
        if pending is not None:
            pending.status = RequestStatus.SUPERSEDED
            pending.resolved_at = workflow.now()
            self._outbox.record(
                AuditEventType.REQUEST_SUPERSEDED,
                req.actor,
                {"request_id": pending.request_id, "superseded_by": request.request_id},
            )
            self._publish()
            await self._outbox.flush()
        else:
            await self._move(
                State.WAITING_FOR_HUMAN,
                "policy requires a human decision",
                req.actor,
                request.request_id,
            )
        return self._pending_result(request, plan)

    @authorize.validator
    def _validate_authorize(self, req: AuthorizeStep) -> None:
        if self._start.template.step(req.step_id) is None:
            raise not_found(
                "unknown_step", f"step {req.step_id} is not in workflow {self._start.template.id}"
            )
        if self._state is State.WAITING_FOR_HUMAN:
            pending = self._requests[self._pending_id] if self._pending_id else None
            if pending is not None and pending.step_id != req.step_id:
                raise conflict(
                    "not_running", f"instance is waiting for a decision on step {pending.step_id}"
                )
        elif self._state is not State.RUNNING:
            raise conflict("not_running", f"instance is {self._state}")

    @workflow.update
    async def report(self, event: AgentEvent) -> AgentEventResult:
        if event.kind is AgentEventKind.COST and event.cost is not None:
            self._cost = Cost(
                tokens=self._cost.tokens + event.cost.tokens,
                money=self._cost.money + event.cost.money,
                currency=event.cost.currency,
                wall_time_seconds=self._cost.wall_time_seconds + event.cost.wall_time_seconds,
            )
            self._outbox.record(
                AuditEventType.COST_REPORTED, event.actor, event.cost.model_dump(mode="json")
            )
        else:
            violation = self._step_violation(event)
            if violation is not None:
                reason, message = violation
                self._outbox.record(
                    AuditEventType.VIOLATION,
                    event.actor,
                    {
                        "reason": reason,
                        "message": message,
                        "event": event.model_dump(mode="json", exclude={"actor"}),
                    },
                )
                await self._outbox.flush()
                raise conflict(reason, message)
            self._outbox.record(
                AuditEventType.AGENT_EVENT,
                event.actor,
                event.model_dump(mode="json", exclude={"actor"}),
            )
        await self._outbox.flush()
        return AgentEventResult(accepted=True, state=self._state, cost=self._cost)

    @report.validator
    def _validate_report(self, event: AgentEvent) -> None:
        if self._state in TERMINAL_STATES:
            raise conflict("terminal", f"instance is {self._state}")
        if event.kind is not AgentEventKind.COST and not event.step_id:
            raise invalid("step_id_required", f"{event.kind} needs a step_id")
        if event.kind is AgentEventKind.COST and event.cost is None:
            raise invalid("cost_required", "COST needs a cost")

    def _step_violation(self, event: AgentEvent) -> tuple[str, str] | None:
        """Why this step event would pass a governed state without authority, if it would."""
        if self._state is not State.RUNNING:
            return "not_running", f"instance is {self._state}: the agent cannot advance on its own"
        assert event.step_id is not None
        step = self._start.template.step(event.step_id)
        if step is None:
            return (
                "unknown_step",
                f"step {event.step_id} is not in workflow {self._start.template.id}",
            )
        governed = step.governed
        if event.kind is AgentEventKind.STEP_STARTED and (governed or event.grant_id):
            return self._grants.use(
                event.step_id, event.grant_id, event.args_digest, workflow.now()
            )
        if (
            event.kind is AgentEventKind.STEP_COMPLETED
            and governed
            and not self._grants.started(event.step_id)
        ):
            return (
                "not_authorized",
                f"step {event.step_id} needs an authorized start before completion",
            )
        return None

    @workflow.update
    async def finish(self, cmd: Finish) -> InstanceView:
        if self._pending_id is not None:
            self._requests[self._pending_id].status = RequestStatus.CANCELLED
            self._requests[self._pending_id].resolved_at = workflow.now()
            self._pending_id = None
        if cmd.kind is FinishKind.COMPLETE:
            await self._move(State.COMPLETED, cmd.reason or "agent reported completion", cmd.actor)
        else:
            cause = f"{cmd.kind.lower()}: {cmd.reason}" if cmd.reason else cmd.kind.lower()
            await self._move(State.TERMINATED, cause, cmd.actor)
        return self.view()

    @finish.validator
    def _validate_finish(self, cmd: Finish) -> None:
        target = State.COMPLETED if cmd.kind is FinishKind.COMPLETE else State.TERMINATED
        if not is_allowed(self._state, target) or (
            cmd.kind is FinishKind.FAIL and self._state is not State.RUNNING
        ):
            raise conflict("not_running", f"instance is {self._state}; cannot {cmd.kind.lower()}")

    # -- human decisions ----------------------------------------------------------------

    @workflow.update
    async def decide(self, d: Decide) -> DecisionResult:
        if d.idempotency_key in self._by_key:
            return self._by_key[d.idempotency_key]
        request = self._requests[d.request_id]
        plan = self._plans[d.request_id]
        # Recorded before the first await: a racing decision's validator already sees it.
        decision = Decision(
            decision_id=f"dec_{workflow.uuid4().hex}",
            instance_id=self._start.instance_id,
            request_id=d.request_id,
            decision_type=d.decision_type,
            human_actor_id=d.actor.id,
            role=d.role,
            justification=d.justification,
            context_snapshot=request.context_snapshot,
            args_digest=request.args_digest,
            context_delta=d.context_delta,
            idempotency_key=d.idempotency_key,
            at=workflow.now(),
        )
        self._decisions.append(decision)
        self._resolve(request, plan, d)
        result = DecisionResult(decision=decision, request=request, state=self._state)
        self._by_key[d.idempotency_key] = result
        self._outbox.record(
            AuditEventType.DECISION_RECORDED,
            d.actor,
            {
                **decision.model_dump(mode="json", exclude={"context_snapshot"}),
                # Whether this decision settled the request (a superseding override does not).
                "quorum_satisfied": request.status in _OUTCOME_STATE,
                "still_needed": request.still_needed,
            },
        )
        await self._outbox.flush()
        # A superseding override leaves the instance waiting on its follow-up request.
        if request.status in _OUTCOME_STATE:
            await self._apply_outcome(
                request, d.actor, f"{d.decision_type} by {d.actor.id} as {d.role}"
            )
        self._publish()
        result = DecisionResult(decision=decision, request=request, state=self._state)
        self._by_key[d.idempotency_key] = result
        return result

    @decide.validator
    def _validate_decide(self, d: Decide) -> None:
        if d.idempotency_key in self._by_key:
            if self._by_key[d.idempotency_key].decision.request_id != d.request_id:
                raise conflict(
                    "idempotency_key_reused", "idempotency key already used for another request"
                )
            return
        request = self._requests.get(d.request_id)
        excluded = set(request.excluded_approvers) if request is not None else set()
        check_decision(d, self._state, request, self._plans.get(d.request_id), excluded)

    @workflow.signal
    async def record_refusal(self, refusal: Refusal) -> None:
        """A signal, not an update: a refused caller must not be able to block the instance."""
        self._outbox.record(
            AuditEventType.ACCESS_REFUSED,
            refusal.actor,
            refusal.model_dump(mode="json", exclude={"actor"}),
        )
        await self._outbox.flush()

    # -- reads --------------------------------------------------------------------------

    @workflow.query
    def view(self) -> InstanceView:
        pending = self._requests.get(self._pending_id) if self._pending_id else None
        return InstanceView(
            instance_id=self._start.instance_id,
            workflow_id=self._start.template.id,
            workflow_version=self._start.template.version,
            template_hash=self._start.template_hash,
            owning_team_id=self._start.owning_team_id,
            trigger_context=self._start.trigger_context,
            started_by=self._start.started_by,
            state=self._state,
            created_at=self._created_at,
            updated_at=self._updated_at,
            pending_request=pending,
            requests=list(self._requests.values()),
            decisions=self._decisions,
            transitions=self._transitions,
            cost=self._cost,
            audit_events=self._outbox.count,
            audit_head=self._outbox.head,
        )

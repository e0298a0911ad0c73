"""The governed instance: one Temporal workflow execution per instance.

HITL is a state inside this workflow. Decisions arrive as Updates whose validators refuse
what is not allowed before anything reaches history; reads are Queries; deadlines are
`wait_condition` timers. Every transition goes through the one table in
`gantral.domain.states`, and every fact is delivered to the audit sink before the
workflow moves past it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel
    from temporalio.exceptions import ApplicationError

    from gantral.attestation import (
        Attestation,
        attestation_problem,
        body_of,
        installed_anchors,
    )
    from gantral.domain.actors import SYSTEM_ACTOR, Actor
    from gantral.domain.audit_event import AuditEventType
    from gantral.domain.digest import args_digest
    from gantral.domain.limits import fields_problem
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
    from gantral.policy.facts import step_facts
    from gantral.workflows import search
    from gantral.workflows.audit_outbox import AuditOutbox
    from gantral.workflows.decision_checks import check_decision
    from gantral.workflows.escalation import Escalation
    from gantral.workflows.grants import GrantBook
    from gantral.workflows.idempotency import Outcomes, fingerprint, scope_of
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
        StartInstance,
        StoredOutcome,
    )
    from gantral.workflows.refusals import conflict, forbidden, invalid, not_found, refuse
    from gantral.workflows.requests import HumanRequests

R = TypeVar("R", bound=BaseModel)

# Bounds what one instance holds (and its history); continue-as-new lifts it (issue 11).
MAX_REQUESTS = 500

# Instances started before attestation existed replay without the start check.
_ATTESTED_START = "attested-start-v1"

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
        self._outcomes = Outcomes()
        self._grants = GrantBook()
        self._cost = Cost()
        self._outbox = AuditOutbox(start.instance_id, start.audit_task_queue)

    # -- lifecycle ----------------------------------------------------------------------

    @workflow.run
    async def run(self, start: StartInstance) -> InstanceView:
        # Checked when the start is first run, never on replay: a later key rotation must
        # not turn an accepted history into a non-deterministic one.
        if workflow.patched(_ATTESTED_START) and not workflow.unsafe.is_replaying():
            _check_start(start, workflow.info().workflow_id)
        self._outbox.record(
            AuditEventType.INSTANCE_STARTED,
            start.started_by,
            {
                "workflow_id": start.template.id,
                "workflow_version": start.template.version,
                "template_hash": start.template_hash,
                "owning_team_id": start.owning_team_id,
                "trigger_context": start.trigger_context,
                **_attested("start", start.attested_body(), start.attestation),
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
                request.step_id,
                rid,
                request.action,
                request.arguments,
                self._plans[rid],
                request.grant_holder,
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
        holder: str | None,
    ) -> Grant:
        grant = self._grants.issue(
            grant_id=f"grant_{workflow.uuid4().hex}",
            step_id=step_id,
            request_id=request_id,
            action=action,
            arguments=arguments,
            expires_at=workflow.now() + plan.grant_ttl,
            holder=holder,
        )
        self._outbox.record(
            AuditEventType.GRANT_ISSUED,
            SYSTEM_ACTOR,
            grant.model_dump(mode="json", exclude={"arguments"}),
        )
        return grant

    def _facts(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """What the step's policy may read: the bound arguments and facts fixed at start."""
        return step_facts(
            arguments=arguments,
            trigger_context=self._start.trigger_context,
            owning_team_id=self._start.owning_team_id,
            workflow_id=self._start.template.id,
        )

    def _publish(self) -> None:
        pending = self._requests.get(self._pending_id) if self._pending_id else None
        search.publish(self._start, self._state, pending)

    # -- admission: what every Update validator checks first ------------------------------

    def _admit(self, op: str, payload: BaseModel, fields: dict[str, Any]) -> None:
        """Refuse a call whose free-form JSON breaks a limit (nothing could sign or store
        it), or that the API did not attest."""
        too_big = fields_problem(fields)
        if too_big is not None:
            raise invalid(*too_big)
        problem = attestation_problem(op, self._start.instance_id, payload)
        if problem is not None:
            raise forbidden("unattested", problem)

    def _repeat(self, scope: str | None, payload: BaseModel) -> bool:
        """Whether this is a repeat of a keyed call already taken (its first outcome is
        answered whatever the state now); a key reused for another call is refused (409)."""
        return scope is not None and self._outcomes.check(scope, fingerprint(payload)) is not None

    async def _once(
        self,
        scope: str | None,
        payload: BaseModel,
        result_type: type[R],
        run: Callable[[], Awaitable[R]],
    ) -> R:
        """Run a keyed call once: a repeat gets the first outcome and records nothing new."""
        if scope is None:
            return await run()
        prior = self._outcomes.check(scope, fingerprint(payload))
        if prior is not None:
            await workflow.wait_condition(lambda: Outcomes.settled(prior))
            return _replay(prior, result_type)
        self._outcomes.begin(scope, fingerprint(payload))
        try:
            result = await run()
        except ApplicationError as error:
            self._outcomes.fail(scope, error)
            raise
        self._outcomes.succeed(scope, result)
        return result

    # -- agent protocol -----------------------------------------------------------------

    @workflow.update
    async def authorize(self, req: AuthorizeStep) -> AuthorizeResult:
        scope = scope_of("authorize", req.actor, req.idempotency_key, req.step_id)
        return await self._once(scope, req, AuthorizeResult, lambda: self._authorize(req))

    async def _authorize(self, req: AuthorizeStep) -> AuthorizeResult:
        step = self._start.template.step(req.step_id)
        assert step is not None  # the validator refused unknown steps
        action = req.action or req.step_id
        digest = args_digest(action, req.arguments)
        plan = plan_request(step.policy, self._facts(req.arguments))
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
            grant = self._issue_grant(req.step_id, None, action, req.arguments, plan, req.actor.id)
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
        self._admit("authorize", req, {"arguments": req.arguments, "context": req.context})
        if self._repeat(scope_of("authorize", req.actor, req.idempotency_key, req.step_id), req):
            return
        if self._start.template.step(req.step_id) is None:
            raise not_found(
                "unknown_step", f"step {req.step_id} is not in workflow {self._start.template.id}"
            )
        if len(self._requests) >= MAX_REQUESTS:
            raise conflict(
                "too_many_requests",
                f"instance has had {MAX_REQUESTS} human requests; start a new instance",
            )
        if self._state is State.WAITING_FOR_HUMAN:
            pending = self._requests[self._pending_id] if self._pending_id else None
            if pending is not None and pending.step_id != req.step_id:
                raise conflict(
                    "not_running", f"instance is waiting for a decision on step {pending.step_id}"
                )
            holder = pending.grant_holder if pending is not None else None
            if holder is not None and holder != req.actor.id:
                # Another agent of the team must not wipe this request's approvals.
                raise conflict(
                    "pending_for_other_principal",
                    f"step {req.step_id} awaits a decision requested by another principal",
                )
        elif self._state is not State.RUNNING:
            raise conflict("not_running", f"instance is {self._state}")

    @workflow.update
    async def report(self, event: AgentEvent) -> AgentEventResult:
        scope = scope_of("report", event.actor, event.idempotency_key)
        return await self._once(scope, event, AgentEventResult, lambda: self._report(event))

    async def _report(self, event: AgentEvent) -> AgentEventResult:
        if event.kind is not AgentEventKind.COST:
            violation = self._step_violation(event)
            if violation is not None:
                reason, message = violation
                self._outbox.record(
                    AuditEventType.VIOLATION,
                    event.actor,
                    {
                        "reason": reason,
                        "message": message,
                        "event": event.model_dump(mode="json", exclude={"actor", "attestation"}),
                    },
                )
                await self._outbox.flush()
                raise conflict(reason, message)
            self._outbox.record(
                AuditEventType.AGENT_EVENT,
                event.actor,
                event.model_dump(mode="json", exclude={"actor", "attestation"}),
            )
        # Cost counts whichever event carries it: never dropped.
        if event.cost is not None:
            self._cost = Cost(
                tokens=self._cost.tokens + event.cost.tokens,
                money=self._cost.money + event.cost.money,
                currency=event.cost.currency,
                wall_time_seconds=self._cost.wall_time_seconds + event.cost.wall_time_seconds,
            )
            self._outbox.record(
                AuditEventType.COST_REPORTED, event.actor, event.cost.model_dump(mode="json")
            )
        await self._outbox.flush()
        return AgentEventResult(accepted=True, state=self._state, cost=self._cost)

    @report.validator
    def _validate_report(self, event: AgentEvent) -> None:
        cost = event.cost.model_dump(mode="json") if event.cost is not None else None
        self._admit("report", event, {"detail": event.detail, "cost": cost})
        if self._repeat(scope_of("report", event.actor, event.idempotency_key), event):
            return
        if self._state in TERMINAL_STATES:
            raise conflict("terminal", f"instance is {self._state}")
        if event.kind is not AgentEventKind.COST and not event.step_id:
            raise invalid("step_id_required", f"{event.kind} needs a step_id")
        if event.kind is AgentEventKind.COST and event.cost is None:
            raise invalid("cost_required", "COST needs a cost")
        if event.cost is not None and (
            event.cost.tokens < 0 or event.cost.money < 0 or event.cost.wall_time_seconds < 0
        ):
            raise invalid("negative_cost", "cost cannot be negative")

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
                event.step_id, event.grant_id, event.args_digest, workflow.now(), event.actor.id
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
        scope = scope_of("finish", cmd.actor, cmd.idempotency_key)
        return await self._once(scope, cmd, InstanceView, lambda: self._finish(cmd))

    async def _finish(self, cmd: Finish) -> InstanceView:
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
        self._admit("finish", cmd, {})
        if self._repeat(scope_of("finish", cmd.actor, cmd.idempotency_key), cmd):
            return
        target = State.COMPLETED if cmd.kind is FinishKind.COMPLETE else State.TERMINATED
        if not is_allowed(self._state, target) or (
            cmd.kind is FinishKind.FAIL and self._state is not State.RUNNING
        ):
            raise conflict("not_running", f"instance is {self._state}; cannot {cmd.kind.lower()}")

    # -- human decisions ----------------------------------------------------------------

    @workflow.update
    async def decide(self, d: Decide) -> DecisionResult:
        scope = scope_of("decide", d.actor, d.idempotency_key, d.request_id)
        return await self._once(scope, d, DecisionResult, lambda: self._decide(d))

    async def _decide(self, d: Decide) -> DecisionResult:
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
            context_snapshot_ref=request.context_snapshot_ref,
            args_digest=request.args_digest,
            context_delta=d.context_delta,
            idempotency_key=d.idempotency_key,
            at=workflow.now(),
            channel=d.channel,
            channel_ref=d.channel_ref,
        )
        self._decisions.append(decision)
        self._resolve(request, plan, d)
        payload = {
            **decision.model_dump(mode="json", exclude={"context_snapshot"}),
            # Whether this decision settled the request (a superseding override does not).
            "quorum_satisfied": request.status in _OUTCOME_STATE,
            "still_needed": request.still_needed,
            **_attested("decide", body_of(d), d.attestation),
        }
        if d.actor.id in request.separation_of_duties_waived_for:
            payload["separation_of_duties_waived"] = True
        self._outbox.record(AuditEventType.DECISION_RECORDED, d.actor, payload)
        await self._outbox.flush()
        # A superseding override leaves the instance waiting on its follow-up request.
        if request.status in _OUTCOME_STATE:
            request.decided_by, request.decided_via = d.actor.id, d.channel
            await self._apply_outcome(
                request, d.actor, f"{d.decision_type} by {d.actor.id} as {d.role}"
            )
        self._publish()
        return DecisionResult(decision=decision, request=request, state=self._state)

    @decide.validator
    def _validate_decide(self, d: Decide) -> None:
        self._admit("decide", d, {"context_delta": d.context_delta})
        if self._repeat(scope_of("decide", d.actor, d.idempotency_key, d.request_id), d):
            return
        request = self._requests.get(d.request_id)
        excluded = set(request.excluded_approvers) if request is not None else set()
        check_decision(d, self._state, request, self._plans.get(d.request_id), excluded)

    # -- reads --------------------------------------------------------------------------

    @workflow.query
    def start_fingerprint(self) -> str | None:
        """The start request this instance was created for (idempotent starts compare it)."""
        return self._start.request_fingerprint

    @workflow.query
    def outcome(self, scope: str) -> StoredOutcome | None:
        """The first outcome of a keyed call; read by retries that find the instance closed."""
        return self._outcomes.get(scope)

    @workflow.query
    def request(self, request_id: str) -> HumanRequest | None:
        """One request in full (its snapshot included): what a long-poll waits on."""
        return self._requests.get(request_id)

    @workflow.query
    def view(self) -> InstanceView:
        pending = self._requests.get(self._pending_id) if self._pending_id else None
        # The snapshot a human was shown is stored once in the audit log (referenced by
        # `context_snapshot_ref`); the view carries it only for the pending request, so
        # an instance's view stays small however many requests it has had.
        requests = [
            r if r is pending else r.model_copy(update={"context_snapshot": {}})
            for r in self._requests.values()
        ]
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
            requests=requests,
            decisions=self._decisions,
            transitions=self._transitions,
            cost=self._cost,
            audit_events=self._outbox.count,
            audit_head=self._outbox.head,
        )


def _replay(prior: StoredOutcome, result_type: type[R]) -> R:
    if prior.error is not None:
        raise refuse(*prior.error)
    return result_type.model_validate(prior.result)


def _attested(op: str, body: dict[str, Any], att: Attestation | None) -> dict[str, Any]:
    """The signed call, kept in the audit event so the sink (and any verifier) can check
    who the API vouched for without trusting the workflow that sent it."""
    return {
        "attested": {
            "op": op,
            "body": body,
            "attestation": att.model_dump(mode="json") if att is not None else None,
        }
    }


def _check_start(start: StartInstance, workflow_id: str) -> None:
    """A start the API did not attest (or for another id) fails before anything is audited."""
    problem = installed_anchors().problem(
        "start", start.instance_id, start.attested_body(), start.attestation
    )
    if problem is None and start.instance_id != workflow_id:
        problem = f"start is attested for {start.instance_id}, not {workflow_id}"
    if problem is None:
        too_big = fields_problem({"trigger_context": start.trigger_context})
        problem = too_big[1] if too_big is not None else None
    if problem is not None:
        raise ApplicationError(
            problem, {"reason": "unattested"}, type="forbidden", non_retryable=True
        )

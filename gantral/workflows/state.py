"""The governance logic of one instance, as a plain state object that Temporal only hosts.

`InstanceState` holds everything an instance knows (requests, grants, transitions, cost,
the audit log of what it recorded) and changes only through its methods. Each method
takes the time (`now`) and, when it creates something, an id source (`ids`), changes the
state and returns what the host must do next; none makes a Temporal call. The host
(`gantral.workflows.instance`) validates, calls the method, flushes the audit log to the
sink, and publishes the visible state. So every rule here runs, and is tested, without a
server (tests/unit/test_instance_state.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gantral.domain.actors import SYSTEM_ACTOR, Actor, ActorKind
from gantral.domain.audit_event import AuditEventType
from gantral.domain.costs import add_cost, cost_problem
from gantral.domain.digest import args_digest, sha256_hex
from gantral.domain.records import (
    Cost,
    Decision,
    DecisionType,
    Grant,
    HumanRequest,
    RequestStatus,
    TransitionRecord,
)
from gantral.domain.states import (
    TERMINAL_STATES,
    IllegalTransition,
    State,
    check_transition,
    is_allowed,
)
from gantral.policy.evaluate import (
    RequestPlan,
    needs_more_authority,
    plan_request,
    second_signoff_plan,
)
from gantral.policy.facts import step_facts
from gantral.policy.quorum import progress, roles_in
from gantral.workflows.audit_outbox import AuditLog
from gantral.workflows.decision_checks import check_decision, choose_role
from gantral.workflows.grants import GrantBook
from gantral.workflows.idempotency import Outcomes
from gantral.workflows.messages import (
    AgentEvent,
    AgentEventKind,
    AgentEventResult,
    AuthorizeOutcome,
    AuthorizeResult,
    AuthorizeStep,
    Carried,
    Decide,
    DecisionResult,
    Finish,
    FinishKind,
    InstanceView,
    StartInstance,
)
from gantral.workflows.refusals import conflict, invalid, not_found

__all__ = ["MAX_REQUESTS", "Authorized", "Decided", "IdSource", "InstanceState"]

IdSource = Callable[[], str]

# Who ended an instance through Temporal's own API or Web UI (no Gantral principal).
TEMPORAL_ACTOR = Actor(id="temporal", kind=ActorKind.SYSTEM)
"""A fresh unique hex id per call (`workflow.uuid4().hex` in the workflow)."""

# Bounds what one instance holds (and its history); continue-as-new lifts it (issue 11).
MAX_REQUESTS = 500

_OUTCOME_STATE = {
    RequestStatus.APPROVED: State.APPROVED,
    RequestStatus.REJECTED: State.REJECTED,
    RequestStatus.OVERRIDDEN: State.OVERRIDDEN,
    RequestStatus.EXPIRED: State.EXPIRED,
}
_TIMEOUT_STATUS = {
    "EXPIRE": RequestStatus.EXPIRED,
    "REJECT": RequestStatus.REJECTED,
    "APPROVE": RequestStatus.APPROVED,
}


@dataclass(frozen=True)
class Authorized:
    """An authorization's answer, and the grant to activate once the log is stored."""

    result: AuthorizeResult
    grant: Grant | None = None


@dataclass(frozen=True)
class Decided:
    """A decision's answer (given at once), and what to settle once the log is stored."""

    result: DecisionResult
    request: HumanRequest
    grant: Grant | None


class InstanceState:
    def __init__(self, start: StartInstance, now: datetime) -> None:
        self.start = start
        self.state = State.CREATED
        self.created_at = now
        self.updated_at = now
        self.transitions: list[TransitionRecord] = []
        self.requests: dict[str, HumanRequest] = {}
        self.plans: dict[str, RequestPlan] = {}
        self.pending_id: str | None = None
        self.decisions: list[Decision] = []
        self.grants = GrantBook()
        self.cost = Cost()
        self.outcomes = Outcomes()
        self.log = AuditLog(start.instance_id)
        self.run = 1
        if start.carried is not None:
            self._restore(start.carried)

    # -- continue-as-new: the whole state as one value ------------------------------------

    def snapshot(self, creator: str | None) -> Carried:
        """Everything the next run needs. Resolved requests drop the snapshot a human was
        shown (it is in the audit log), so what is carried stays small."""
        pending = self.pending
        grants, used, active, started = self.grants.snapshot()
        return Carried(
            run=self.run + 1,
            state=self.state,
            created_at=self.created_at,
            updated_at=self.updated_at,
            transitions=self.transitions,
            requests=[
                r if r is pending else r.model_copy(update={"context_snapshot": {}})
                for r in self.requests.values()
            ],
            plans={rid: plan for rid, plan in self.plans.items() if rid == self.pending_id},
            pending_id=self.pending_id,
            decisions=self.decisions,
            grants=grants,
            used_grants=used,
            active_grants=active,
            started_steps=started,
            cost=self.cost,
            outcomes=self.outcomes.all(),
            audit_count=self.log.count,
            audit_head=self.log.head,
            creator=creator,
        )

    def _restore(self, carried: Carried) -> None:
        self.run = carried.run
        self.state = carried.state
        self.created_at, self.updated_at = carried.created_at, carried.updated_at
        self.transitions = list(carried.transitions)
        self.requests = {r.request_id: r for r in carried.requests}
        self.plans = dict(carried.plans)
        self.pending_id = carried.pending_id
        self.decisions = list(carried.decisions)
        self.grants = GrantBook.restore(
            carried.grants, carried.used_grants, carried.active_grants, carried.started_steps
        )
        self.cost = carried.cost
        self.outcomes = Outcomes.restore(carried.outcomes)
        self.log = AuditLog(
            self.start.instance_id, after=carried.audit_count, head=carried.audit_head
        )

    # -- reads ------------------------------------------------------------------------

    @property
    def pending(self) -> HumanRequest | None:
        return self.requests.get(self.pending_id) if self.pending_id else None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def view(self) -> InstanceView:
        pending = self.pending
        # The snapshot a human was shown is stored once in the audit log (referenced by
        # `context_snapshot_ref`); the view carries it only for the pending request, so
        # an instance's view stays small however many requests it has had.
        requests = [
            r if r is pending else r.model_copy(update={"context_snapshot": {}})
            for r in self.requests.values()
        ]
        return InstanceView(
            instance_id=self.start.instance_id,
            workflow_id=self.start.template.id,
            workflow_version=self.start.template.version,
            template_hash=self.start.template_hash,
            owning_team_id=self.start.owning_team_id,
            trigger_context=self.start.trigger_context,
            started_by=self.start.started_by,
            state=self.state,
            created_at=self.created_at,
            updated_at=self.updated_at,
            pending_request=pending,
            requests=requests,
            decisions=self.decisions,
            transitions=self.transitions,
            cost=self.cost,
            audit_events=self.log.count,
            audit_head=self.log.head,
        )

    # -- lifecycle ----------------------------------------------------------------------

    def begin(self, attested: dict[str, Any], now: datetime) -> None:
        """CREATED -> RUNNING, recording the start (`attested`: the API's signed start)."""
        start = self.start
        payload = {
            "workflow_id": start.template.id,
            "workflow_version": start.template.version,
            "template_hash": start.template_hash,
            "owning_team_id": start.owning_team_id,
            "trigger_context": start.trigger_context,
            # The exact policy each governed step is pinned to, so the log alone says
            # what governed the instance (and a backtest can compare against it).
            "pinned_policies": {
                step.id: (
                    step.policy_ref.model_dump(mode="json")
                    if step.policy_ref is not None
                    else {
                        "inline": True,
                        "content_hash": sha256_hex(step.policy.model_dump(mode="json")),
                    }
                )
                for step in start.template.steps
                if step.governed
            },
            **attested,
        }
        if start.callback_url is not None:
            payload["callback_url"] = start.callback_url
        self.log.record(AuditEventType.INSTANCE_STARTED, start.started_by, payload, now)
        self.move(State.RUNNING, "instance started", self.start.started_by, now)

    def seal(self, now: datetime) -> None:
        self.log.record(AuditEventType.INSTANCE_SEALED, SYSTEM_ACTOR, {"state": self.state}, now)

    def move(
        self,
        target: State,
        cause: str,
        actor: Actor,
        now: datetime,
        request_id: str | None = None,
    ) -> None:
        """The one place a transition happens: checked against the state table."""
        try:
            check_transition(self.state, target)
        except IllegalTransition as error:
            raise conflict("illegal_transition", str(error)) from None
        record = TransitionRecord(
            seq=len(self.transitions) + 1,
            from_state=self.state,
            to_state=target,
            cause=cause,
            actor=actor,
            at=now,
            request_id=request_id,
        )
        self.transitions.append(record)
        self.state = target
        self.updated_at = now
        self.log.record(
            AuditEventType.STATE_TRANSITION,
            actor,
            record.model_dump(mode="json", exclude={"actor"}),
            now,
        )

    # -- the agent protocol -------------------------------------------------------------

    def check_authorize(self, req: AuthorizeStep) -> None:
        if self.start.template.step(req.step_id) is None:
            raise not_found(
                "unknown_step", f"step {req.step_id} is not in workflow {self.start.template.id}"
            )
        if len(self.requests) >= MAX_REQUESTS:
            raise conflict(
                "too_many_requests",
                f"instance has had {MAX_REQUESTS} human requests; start a new instance",
            )
        if self.state is State.WAITING_FOR_HUMAN:
            pending = self.pending
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
        elif self.state is not State.RUNNING:
            raise conflict("not_running", f"instance is {self.state}")

    def authorize(self, req: AuthorizeStep, now: datetime, ids: IdSource) -> Authorized:
        """Evaluate the pinned policy on the step's bound facts: ALLOW with a grant (to be
        activated once audited), or a human request (superseding a pending one)."""
        step = self.start.template.step(req.step_id)
        assert step is not None  # check_authorize refused unknown steps
        action = req.action or req.step_id
        digest = args_digest(action, req.arguments)
        plan = plan_request(step.policy, self.facts(req.arguments))
        self.log.record(
            AuditEventType.POLICY_EVALUATED,
            req.actor,
            {
                "step_id": req.step_id,
                "args_digest": digest,
                "materiality": plan.materiality,
                "requires_human": plan.requires_human,
                "explanation": plan.explanation,
            },
            now,
        )
        pending = self.pending
        if pending is not None and pending.args_digest == digest:
            return Authorized(_pending_result(pending, plan))
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
        request = self.open_request(
            req.step_id, action, req.arguments, req.context, req.actor, plan, now, ids,
            redacted=req.redacted,
        )  # fmt: skip
        if pending is not None:
            pending.status = RequestStatus.SUPERSEDED
            pending.superseded_by, pending.superseded_why = request.request_id, "reauthorized"
            pending.resolved_at = now
            self.log.record(
                AuditEventType.REQUEST_SUPERSEDED,
                req.actor,
                {"request_id": pending.request_id, "superseded_by": request.request_id},
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

    def check_report(self, event: AgentEvent) -> None:
        if self.terminal:
            raise conflict("terminal", f"instance is {self.state}")
        if event.kind is not AgentEventKind.COST and not event.step_id:
            raise invalid("step_id_required", f"{event.kind} needs a step_id")
        if event.kind is AgentEventKind.COST and event.cost is None:
            raise invalid("cost_required", "COST needs a cost")
        if event.cost is not None:
            # Checked against the total here, where it is known: the API is not the only
            # client, and a total that overflowed would make every view unreadable.
            problem = cost_problem(self.cost, event.cost)
            if problem is not None:
                raise invalid(*problem)

    def report(self, event: AgentEvent, now: datetime) -> AgentEventResult | tuple[str, str]:
        """Record a step event or cost. A step event that would pass a governed state
        without authority is recorded as a VIOLATION and returned as (reason, message)."""
        if event.kind is not AgentEventKind.COST:
            violation = self._step_violation(event, now)
            dumped = event.model_dump(mode="json", exclude={"actor", "attestation"})
            if violation is not None:
                reason, message = violation
                payload = {"reason": reason, "message": message, "event": dumped}
                self.log.record(AuditEventType.VIOLATION, event.actor, payload, now)
                return violation
            if event.kind is AgentEventKind.STEP_STARTED and event.grant_id:
                used = {"grant_id": event.grant_id, "step_id": event.step_id}
                self.log.record(AuditEventType.GRANT_USED, event.actor, used, now)
            self.log.record(AuditEventType.AGENT_EVENT, event.actor, dumped, now)
        # Cost counts whichever event carries it: never dropped.
        if event.cost is not None:
            self.cost = add_cost(self.cost, event.cost)
            cost = event.cost.model_dump(mode="json")
            self.log.record(AuditEventType.COST_REPORTED, event.actor, cost, now)
        return AgentEventResult(accepted=True, state=self.state, cost=self.cost)

    def _step_violation(self, event: AgentEvent, now: datetime) -> tuple[str, str] | None:
        """Why this step event would pass a governed state without authority, if it would."""
        if self.state is not State.RUNNING:
            return "not_running", f"instance is {self.state}: the agent cannot advance on its own"
        assert event.step_id is not None
        step = self.start.template.step(event.step_id)
        if step is None:
            return (
                "unknown_step",
                f"step {event.step_id} is not in workflow {self.start.template.id}",
            )
        if event.kind is AgentEventKind.STEP_STARTED and (step.governed or event.grant_id):
            return self.grants.use(
                event.step_id, event.grant_id, event.args_digest, now, event.actor.id
            )
        if (
            event.kind is AgentEventKind.STEP_COMPLETED
            and step.governed
            and not self.grants.started(event.step_id)
        ):
            return (
                "not_authorized",
                f"step {event.step_id} needs an authorized start before completion",
            )
        return None

    def check_finish(self, cmd: Finish) -> None:
        target = State.COMPLETED if cmd.kind is FinishKind.COMPLETE else State.TERMINATED
        if not is_allowed(self.state, target) or (
            cmd.kind is FinishKind.FAIL and self.state is not State.RUNNING
        ):
            raise conflict("not_running", f"instance is {self.state}; cannot {cmd.kind.lower()}")

    def finish(self, cmd: Finish, now: datetime) -> None:
        pending = self.pending
        if pending is not None:
            pending.status = RequestStatus.CANCELLED
            pending.resolved_at = now
            self.pending_id = None
        target, cause = finish_transition(cmd)
        self.move(target, cause, cmd.actor, now)

    def cancel_from_temporal(self, now: datetime) -> None:
        """A cancellation requested through Temporal itself, not through Gantral."""
        if self.terminal:
            return
        pending = self.pending
        if pending is not None:
            pending.status = RequestStatus.CANCELLED
            pending.resolved_at = now
            self.pending_id = None
        for step in (State.RESUMED, State.RUNNING):
            # Mid-outcome (APPROVED, OVERRIDDEN): the outcome's own path first.
            if self.state not in (State.RUNNING, State.WAITING_FOR_HUMAN) and is_allowed(
                self.state, step
            ):
                self.move(step, "execution resumes", SYSTEM_ACTOR, now)
        cause = "cancellation requested through Temporal, not Gantral"
        self.move(State.TERMINATED, cause, TEMPORAL_ACTOR, now)

    # -- human decisions ----------------------------------------------------------------

    def check_decide(self, d: Decide) -> None:
        request = self.requests.get(d.request_id)
        excluded = set(request.excluded_approvers) if request is not None else set()
        check_decision(d, self.state, request, self.plans.get(d.request_id), excluded)

    def decide(
        self, signed: Decide, attested: dict[str, Any], now: datetime, ids: IdSource
    ) -> Decided:
        """Apply a checked decision and everything it settles, at once (so a racing
        decision's check already sees it). `attested`: the API's signed call, kept in the
        audit event."""
        request = self.requests[signed.request_id]
        plan = self.plans[signed.request_id]
        d = signed.model_copy(update={"role": choose_role(signed, request, plan)})
        assert d.role is not None  # check_decide refused a decision with no role
        decision = Decision(
            decision_id=f"dec_{ids()}",
            instance_id=self.start.instance_id,
            request_id=d.request_id,
            decision_type=d.decision_type,
            human_actor_id=d.actor.id,
            role=d.role,
            justification=d.justification,
            context_snapshot_ref=request.context_snapshot_ref,
            args_digest=request.args_digest,
            context_delta=d.context_delta,
            idempotency_key=d.idempotency_key,
            at=now,
            channel=d.channel,
            channel_ref=d.channel_ref,
        )
        self.decisions.append(decision)
        self._resolve(request, plan, d, now, ids)
        payload = {
            **decision.model_dump(mode="json", exclude={"context_snapshot"}),
            # Whether this decision settled the request (a superseding override does not).
            "quorum_satisfied": request.status in _OUTCOME_STATE,
            "still_needed": request.still_needed,
            **attested,
        }
        if d.actor.id in request.separation_of_duties_waived_for:
            payload["separation_of_duties_waived"] = True
        self.log.record(AuditEventType.DECISION_RECORDED, d.actor, payload, now)
        grant = None
        # A superseding override leaves the instance waiting on its follow-up request.
        if request.status in _OUTCOME_STATE:
            request.decided_by, request.decided_via = d.actor.id, d.channel
            request.decision_id = decision.decision_id
            grant = self.record_outcome(
                request, d.actor, f"{d.decision_type} by {d.actor.id} as {d.role}", now, ids
            )
        result = DecisionResult(
            decision=decision, request=request.model_copy(deep=True), state=self.state
        )
        return Decided(result, request, grant)

    def settle(self, request: HumanRequest | None, grant: Grant | None, now: datetime) -> None:
        """Once everything recorded so far is stored by the sink: the grant becomes usable
        and visible, and long-polls on the request see its outcome."""
        if grant is not None:
            self.grants.activate(grant.grant_id)
        if request is not None and request.status is not RequestStatus.PENDING:
            request.grant = grant or request.grant
            request.resolved_at = request.resolved_at or now

    def record_outcome(
        self, request: HumanRequest, actor: Actor, cause: str, now: datetime, ids: IdSource
    ) -> Grant | None:
        """From WAITING_FOR_HUMAN to RUNNING (approved, overridden) or TERMINATED. The grant
        is issued inactive: `settle` activates it once the facts that authorize it are
        durably in the audit log."""
        self.pending_id = None
        rid = request.request_id
        self.move(_OUTCOME_STATE[request.status], cause, actor, now, rid)
        if request.status not in (RequestStatus.APPROVED, RequestStatus.OVERRIDDEN):
            ends = f"{request.status.lower()} ends the instance"
            self.move(State.TERMINATED, ends, SYSTEM_ACTOR, now, rid)
            return None
        grant = self.issue_grant(
            request.step_id, rid, request.action, request.arguments, self.plans[rid],
            request.grant_holder, now, ids,
        )  # fmt: skip
        self.move(State.RESUMED, "execution resumes", SYSTEM_ACTOR, now, rid)
        self.move(State.RUNNING, "agent continues", SYSTEM_ACTOR, now, rid)
        return grant

    def issue_grant(
        self,
        step_id: str,
        request_id: str | None,
        action: str,
        arguments: dict[str, Any],
        plan: RequestPlan,
        holder: str | None,
        now: datetime,
        ids: IdSource,
    ) -> Grant:
        grant = self.grants.issue(
            grant_id=f"grant_{ids()}",
            step_id=step_id,
            request_id=request_id,
            action=action,
            arguments=arguments,
            expires_at=now + plan.grant_ttl,
            holder=holder,
        )
        payload = grant.model_dump(mode="json", exclude={"arguments"})
        self.log.record(AuditEventType.GRANT_ISSUED, SYSTEM_ACTOR, payload, now)
        return grant

    # -- escalation (the host runs the timers) ------------------------------------------

    def is_open(self, request: HumanRequest) -> bool:
        return request.status is RequestStatus.PENDING and self.pending_id == request.request_id

    def enter_tier(self, request: HumanRequest, index: int, now: datetime) -> None:
        """Tier `index` of the request's escalation chain begins: its approvers, deadline."""
        tier = self.plans[request.request_id].tiers[index]
        if index > 0:
            request.tier = index
            self.log.record(
                AuditEventType.ESCALATED,
                SYSTEM_ACTOR,
                {
                    "request_id": request.request_id,
                    "tier": index,
                    "approvers": roles_in(tier.approvers),
                },
                now,
            )
        request.required_approvers = roles_in(tier.approvers)
        request.deadline = now + tier.timeout if tier.timeout else None

    def reminder_times(self, request: HumanRequest, index: int, now: datetime) -> list[datetime]:
        before: list[timedelta] = self.plans[request.request_id].tiers[index].reminders
        deadline = request.deadline
        if deadline is None:
            return []
        return sorted(t for t in (deadline - b for b in before) if t > now)

    def remind(self, request: HumanRequest, index: int, now: datetime) -> None:
        self.log.record(
            AuditEventType.REMINDER_SENT,
            SYSTEM_ACTOR,
            {"request_id": request.request_id, "tier": index, "deadline": request.deadline},
            now,
        )

    def time_out(self, request: HumanRequest, now: datetime, ids: IdSource) -> Grant | None:
        """No decision before the last deadline: the policy's on_timeout, by the system."""
        plan = self.plans[request.request_id]
        request.status = _TIMEOUT_STATUS[plan.on_timeout.value]
        request.decided_by, request.decided_via = SYSTEM_ACTOR.id, "timeout"
        self.log.record(
            AuditEventType.TIMED_OUT,
            SYSTEM_ACTOR,
            {
                "request_id": request.request_id,
                "on_timeout": plan.on_timeout,
                "outcome": request.status,
            },
            now,
        )
        cause = f"timeout: on_timeout={plan.on_timeout}"
        return self.record_outcome(request, SYSTEM_ACTOR, cause, now, ids)

    # -- requests -------------------------------------------------------------------------

    def facts(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """What the step's policy may read: the bound arguments and facts fixed at start."""
        return step_facts(
            arguments=arguments,
            trigger_context=self.start.trigger_context,
            owning_team_id=self.start.owning_team_id,
            workflow_id=self.start.template.id,
        )

    def open_request(
        self,
        step_id: str,
        action: str,
        arguments: dict[str, Any],
        context: dict[str, Any],
        requested_by: Actor,
        plan: RequestPlan,
        now: datetime,
        ids: IdSource,
        *,
        excluded: set[str] | None = None,
        redacted: list[str] | None = None,
        grant_holder: str | None = None,
    ) -> HumanRequest:
        request_id = f"req_{ids()}"
        digest = args_digest(action, arguments)
        roles = plan.eligible_roles(0)
        snapshot: dict[str, Any] = {
            "instance_id": self.start.instance_id,
            "workflow_id": self.start.template.id,
            "step_id": step_id,
            "action": action,
            "arguments": arguments,
            "args_digest": digest,
            "context": context,
            "materiality": plan.materiality.value,
            "required_approvers": roles,
        }
        if redacted:
            snapshot["redacted"] = redacted
        separated = self._excluded(requested_by)
        request = HumanRequest(
            request_id=request_id,
            step_id=step_id,
            action=action,
            arguments=arguments,
            args_digest=digest,
            materiality=plan.materiality,
            required_approvers=roles,
            deadline=None,
            context_snapshot=snapshot,
            requested_by=requested_by.id,
            sla_deadline=now + plan.sla if plan.sla else None,
            # Opting out of separation of duties is honoured, and recorded with whom it
            # would have excluded; an explicit exclusion (a second sign-off) always holds.
            excluded_approvers=sorted(
                (separated if plan.separation_of_duties else set()) | (excluded or set())
            ),
            separation_of_duties_waived_for=(
                [] if plan.separation_of_duties else sorted(separated)
            ),
            grant_holder=grant_holder or requested_by.id,
            created_at=now,
        )
        self.requests[request_id] = request
        self.plans[request_id] = plan
        self.pending_id = request_id
        self._update_quorum(request, plan)
        seq = self.log.record(
            AuditEventType.HUMAN_REQUESTED,
            requested_by,
            {
                "request_id": request_id,
                "step_id": step_id,
                "args_digest": digest,
                "approvers": roles,
                "separation_of_duties": plan.separation_of_duties,
                "grant_holder": request.grant_holder,
            },
            now,
            snapshot=snapshot,
        )
        request.context_snapshot_ref = f"audit:{self.start.instance_id}/{seq}"
        return request

    def _excluded(self, requester: Actor) -> set[str]:
        """Who separation of duties keeps from deciding: the requester, the actor who
        triggered the instance, and the owners of either when they are agents."""
        people = (
            requester.id,
            requester.owner,
            self.start.started_by.id,
            self.start.started_by.owner,
        )
        return {p for p in people if p}

    def _resolve(
        self, request: HumanRequest, plan: RequestPlan, d: Decide, now: datetime, ids: IdSource
    ) -> None:
        if d.decision_type is DecisionType.REJECT:
            request.status = RequestStatus.REJECTED
        elif d.decision_type is DecisionType.OVERRIDE:
            self._resolve_override(request, plan, d, now, ids)
        else:
            assert d.role is not None
            request.approvals[d.actor.id] = d.role
            self._update_quorum(request, plan)

    def _update_quorum(self, request: HumanRequest, plan: RequestPlan) -> None:
        tier = plan.tiers[min(request.tier, len(plan.tiers) - 1)]
        quorum = progress(tier.approvers, request.approvals, excluded=request.excluded_approvers)
        request.still_needed = quorum.still_needed
        request.quorum = f"{len(quorum.counted)} of {quorum.required} approvals" + (
            "" if quorum.satisfied else "; still needed: " + ", ".join(quorum.still_needed)
        )
        if quorum.satisfied:
            request.status = RequestStatus.APPROVED

    def _resolve_override(
        self, request: HumanRequest, plan: RequestPlan, d: Decide, now: datetime, ids: IdSource
    ) -> None:
        """An override's edited arguments are re-checked against the pinned policy first.

        If they need more authority (higher materiality, other approvers) or the policy
        wants a second sign-off, the edit becomes a new request for those approvers: an
        override never routes around the policy.
        """
        arguments = {**request.arguments, **(d.context_delta or {})}
        step = self.start.template.step(request.step_id)
        assert step is not None
        context = dict(request.context_snapshot.get("context") or {})
        edited = plan_request(step.policy, self.facts(arguments))
        request.context_delta = d.context_delta
        more = needs_more_authority(plan, edited)
        if more or plan.override_requires_second_signoff:
            request.status = RequestStatus.SUPERSEDED
            request.resolved_at = now
            follow_up = edited if more else second_signoff_plan(plan)
            new = self.open_request(
                request.step_id, request.action, arguments, context, d.actor, follow_up,
                now, ids,
                excluded={d.actor.id, *request.excluded_approvers},
                redacted=request.context_snapshot.get("redacted"),
                grant_holder=request.grant_holder,
            )  # fmt: skip
            why = "override needs more authority" if more else "second sign-off"
            request.superseded_by, request.superseded_why = new.request_id, why
            self.log.record(
                AuditEventType.REQUEST_SUPERSEDED,
                d.actor,
                {
                    "request_id": request.request_id,
                    "superseded_by": new.request_id,
                    "why": why,
                    "materiality": edited.materiality,
                },
                now,
            )
            return
        request.arguments = arguments
        request.args_digest = args_digest(request.action, arguments)
        request.status = RequestStatus.OVERRIDDEN


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


def finish_transition(cmd: Finish) -> tuple[State, str]:
    """The state a finish moves to and the cause it records: how a repeat of the very
    same finish is recognised once the instance has ended (`GantralCore.finish`)."""
    if cmd.kind is FinishKind.COMPLETE:
        return State.COMPLETED, cmd.reason or "agent reported completion"
    cause = f"{cmd.kind.lower()}: {cmd.reason}" if cmd.reason else cmd.kind.lower()
    return State.TERMINATED, cause

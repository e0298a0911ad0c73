"""Human requests and their quorum: opening a request, deciding it, and what an outcome
settles (the transition, the grant)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gantral.domain.actors import SYSTEM_ACTOR, Actor
from gantral.domain.audit_payloads import (
    DecisionRecorded,
    GrantIssued,
    HumanRequested,
    RequestSuperseded,
    StandingGrantGiven,
)
from gantral.domain.digest import args_digest
from gantral.domain.records import Decision, DecisionType, Grant, HumanRequest, RequestStatus
from gantral.domain.states import State
from gantral.governance.standing import StandingGrant
from gantral.policy.evaluate import (
    RequestPlan,
    needs_more_authority,
    plan_request,
    second_signoff_plan,
)
from gantral.policy.quorum import progress
from gantral.workflows.decision_checks import (
    check_decision,
    check_standing,
    choose_role,
    counted_as,
)
from gantral.workflows.messages import Decide, DecisionResult
from gantral.workflows.state.core import IdSource, StateCore

__all__ = ["Decided", "RequestSpec", "Requests"]

_OUTCOME_STATE = {
    RequestStatus.APPROVED: State.APPROVED,
    RequestStatus.REJECTED: State.REJECTED,
    RequestStatus.OVERRIDDEN: State.OVERRIDDEN,
    RequestStatus.EXPIRED: State.EXPIRED,
}


@dataclass(frozen=True)
class RequestSpec:
    """What a human is asked to decide: the step's call, who asks, and under which plan."""

    step_id: str
    action: str
    arguments: dict[str, Any]
    context: dict[str, Any]
    requested_by: Actor
    plan: RequestPlan
    # Kept from deciding besides separation of duties (a second sign-off's first signer).
    excluded: frozenset[str] = field(default_factory=frozenset)
    # Context paths removed by the API's data minimization, shown with the snapshot.
    redacted: list[str] | None = None
    # Who may use the grant; the requester by default.
    grant_holder: str | None = None


@dataclass(frozen=True)
class Decided:
    """A decision's answer (given at once), and what to settle once the log is stored."""

    result: DecisionResult
    request: HumanRequest
    grant: Grant | None


class Requests(StateCore):
    """Human requests, their quorum and decisions, and what an outcome settles."""

    # -- requests and quorum ------------------------------------------------------------

    def open_request(self, spec: RequestSpec, now: datetime, ids: IdSource) -> HumanRequest:
        step_id, action, arguments, plan = spec.step_id, spec.action, spec.arguments, spec.plan
        requested_by, redacted = spec.requested_by, spec.redacted
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
            "context": spec.context,
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
                (separated if plan.separation_of_duties else set()) | spec.excluded
            ),
            separation_of_duties_waived_for=(
                [] if plan.separation_of_duties else sorted(separated)
            ),
            grant_holder=spec.grant_holder or requested_by.id,
            self_approval=plan.self_approval,
            created_at=now,
        )
        self.data.requests[request_id] = request
        self.data.plans[request_id] = plan
        self.data.pending_id = request_id
        self._update_quorum(request, plan)
        requested = HumanRequested(
            request_id=request_id,
            step_id=step_id,
            args_digest=digest,
            approvers=roles,
            separation_of_duties=plan.separation_of_duties,
            grant_holder=request.grant_holder,
        )
        if self.read_model_fields:
            first = plan.tiers[0].timeout
            update = {
                "deadline": now + first if first else None,
                "excluded_approvers": request.excluded_approvers,
            }
            requested = requested.model_copy(update=update)
        seq = self.log.record(requested, requested_by, now, snapshot=snapshot)
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

    def _update_quorum(self, request: HumanRequest, plan: RequestPlan) -> None:
        tier = plan.tiers[min(request.tier, len(plan.tiers) - 1)]
        quorum = progress(tier.approvers, request.approvals, excluded=request.excluded_approvers)
        request.still_needed = quorum.still_needed
        request.quorum = f"{len(quorum.counted)} of {quorum.required} approvals" + (
            "" if quorum.satisfied else "; still needed: " + ", ".join(quorum.still_needed)
        )
        if quorum.satisfied:
            request.status = RequestStatus.APPROVED

    # -- human decisions ----------------------------------------------------------------

    def check_decide(self, d: Decide, now: datetime | None = None) -> None:
        """`now`: the workflow's clock, against which a deputy's window is checked."""
        request = self.data.requests.get(d.request_id)
        excluded = set(request.excluded_approvers) if request is not None else set()
        plan = self.data.plans.get(d.request_id)
        team = self.start.owning_team_id
        check_decision(d, self.state, request, plan, excluded, now, team)
        if d.standing is not None:
            assert request is not None and plan is not None  # check_decision refused otherwise
            step = self.start.template.step(request.step_id)
            check_standing(d, request, plan, step.policy.standing if step else None)

    def decide(
        self, signed: Decide, attested: dict[str, Any], now: datetime, ids: IdSource
    ) -> Decided:
        """Apply a checked decision and everything it settles, at once (so a racing
        decision's check already sees it). `attested`: the API's signed call, kept in the
        audit event."""
        request = self.data.requests[signed.request_id]
        plan = self.data.plans[signed.request_id]
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
            on_behalf_of=d.on_behalf_of.delegator if d.on_behalf_of else None,
            delegation_id=d.on_behalf_of.delegation_id if d.on_behalf_of else None,
        )
        self.data.decisions.append(decision)
        self._resolve(request, plan, d, now, ids)
        payload = DecisionRecorded(
            **decision.model_dump(exclude={"context_snapshot"}),
            # Whether this decision settled the request (a superseding override does not).
            quorum_satisfied=request.status in _OUTCOME_STATE,
            still_needed=request.still_needed,
            **attested,
        )
        if d.actor.id in request.separation_of_duties_waived_for:
            payload.separation_of_duties_waived = True
        self.log.record(payload, d.actor, now)
        grant = None
        # A superseding override leaves the instance waiting on its follow-up request.
        if request.status in _OUTCOME_STATE:
            request.decided_by, request.decided_via = d.actor.id, d.channel
            request.decision_id = decision.decision_id
            request.decided_on_behalf_of = decision.on_behalf_of
            by = d.actor.id + (f" for {decision.on_behalf_of}" if decision.on_behalf_of else "")
            grant = self.record_outcome(
                request, d.actor, f"{d.decision_type} by {by} as {d.role}", now, ids
            )
        standing = None
        if d.standing is not None and request.status in _OUTCOME_STATE:
            standing = self._give_standing(request, plan, d, decision.decision_id, now, ids)
        result = DecisionResult(
            decision=decision,
            request=request.model_copy(deep=True),
            state=self.state,
            standing_grant=standing,
        )
        return Decided(result, request, grant)

    def _give_standing(
        self, request: HumanRequest, plan: RequestPlan, d: Decide, decision_id: str,
        now: datetime, ids: IdSource,
    ) -> StandingGrant:  # fmt: skip
        """The standing grant an APPROVE gave (checked by `check_standing`), recorded; the
        API stores it once this is audited."""
        ask = d.standing
        assert ask is not None and d.role is not None
        standing = StandingGrant(
            standing_id=f"stg_{ids()}",
            team=self.start.owning_team_id,
            workflow_id=self.start.template.id,
            step_id=request.step_id,
            action=request.action,
            pattern=ask.pattern,
            agent=(request.grant_holder or request.requested_by) if ask.serves == "agent" else None,
            approver=d.actor.id,
            approver_role=d.role,
            instance_id=self.start.instance_id,
            request_id=request.request_id,
            materiality=plan.materiality,
            given_at=now,
            expires_at=now + ask.ttl,
            max_uses=ask.max_uses,
        )
        given = standing.model_dump(exclude={"uses", "revoked_by", "revoked_at", "revoke_reason"})
        self.log.record(StandingGrantGiven(**given, decision_id=decision_id), d.actor, now)
        return standing

    def _resolve(
        self, request: HumanRequest, plan: RequestPlan, d: Decide, now: datetime, ids: IdSource
    ) -> None:
        if d.decision_type is DecisionType.REJECT:
            request.status = RequestStatus.REJECTED
        elif d.decision_type is DecisionType.OVERRIDE:
            self._resolve_override(request, plan, d, now, ids)
        else:
            assert d.role is not None
            request.approvals[counted_as(d)] = d.role
            if d.on_behalf_of is not None:
                request.deputies[d.on_behalf_of.delegator] = d.actor.id
            self._update_quorum(request, plan)

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
            spec = RequestSpec(
                step_id=request.step_id, action=request.action, arguments=arguments,
                context=context, requested_by=d.actor, plan=follow_up,
                excluded=frozenset({d.actor.id, *request.excluded_approvers}),
                redacted=request.context_snapshot.get("redacted"),
                grant_holder=request.grant_holder,
            )  # fmt: skip
            new = self.open_request(spec, now, ids)
            why = "override needs more authority" if more else "second sign-off"
            request.superseded_by, request.superseded_why = new.request_id, why
            self.log.record(
                RequestSuperseded(
                    request_id=request.request_id,
                    superseded_by=new.request_id,
                    why=why,
                    materiality=edited.materiality,
                ),
                d.actor,
                now,
            )
            return
        request.arguments = arguments
        request.args_digest = args_digest(request.action, arguments)
        request.status = RequestStatus.OVERRIDDEN

    # -- what an outcome settles --------------------------------------------------------

    def record_outcome(
        self, request: HumanRequest, actor: Actor, cause: str, now: datetime, ids: IdSource
    ) -> Grant | None:
        """From WAITING_FOR_HUMAN to RUNNING (approved, overridden) or TERMINATED. The grant
        is issued inactive: `settle` activates it once the facts that authorize it are
        durably in the audit log."""
        self.data.pending_id = None
        rid = request.request_id
        self.move(_OUTCOME_STATE[request.status], cause, actor, now, rid)
        if request.status not in (RequestStatus.APPROVED, RequestStatus.OVERRIDDEN):
            ends = f"{request.status.lower()} ends the instance"
            self.move(State.TERMINATED, ends, SYSTEM_ACTOR, now, rid)
            return None
        grant = self.issue_grant(
            request.step_id, rid, request.action, request.arguments, self.data.plans[rid],
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
        grant = self.data.grants.issue(
            grant_id=f"grant_{ids()}",
            step_id=step_id,
            request_id=request_id,
            action=action,
            arguments=arguments,
            expires_at=now + plan.grant_ttl,
            holder=holder,
        )
        payload = GrantIssued.model_validate(grant.model_dump(exclude={"arguments"}))
        self.log.record(payload, SYSTEM_ACTOR, now)
        return grant

    def settle(self, request: HumanRequest | None, grant: Grant | None, now: datetime) -> None:
        """Once everything recorded so far is stored by the sink: the grant becomes usable
        and visible, and long-polls on the request see its outcome."""
        if grant is not None:
            self.data.grants.activate(grant.grant_id)
        if request is not None and request.status is not RequestStatus.PENDING:
            request.grant = grant or request.grant
            request.resolved_at = request.resolved_at or now

"""Human requests of an instance: opening them, applying decisions, and re-checking edits.

A mixin of `InstanceWorkflow`, kept apart so the workflow module reads as the lifecycle
and its handlers. Everything here runs synchronously inside an Update or the run loop:
no awaits, so a racing decision's validator always sees the state these methods leave.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from gantral.domain.actors import Actor
    from gantral.domain.audit_event import AuditEventType
    from gantral.domain.digest import args_digest
    from gantral.domain.records import DecisionType, HumanRequest, RequestStatus
    from gantral.policy.evaluate import (
        RequestPlan,
        needs_more_authority,
        plan_request,
        second_signoff_plan,
    )
    from gantral.policy.quorum import progress
    from gantral.workflows.audit_outbox import AuditOutbox
    from gantral.workflows.messages import (
        AuthorizeOutcome,
        AuthorizeResult,
        Decide,
        StartInstance,
    )


class HumanRequests:
    _start: StartInstance
    _outbox: AuditOutbox
    _requests: dict[str, HumanRequest]
    _plans: dict[str, RequestPlan]
    _pending_id: str | None

    def _facts(self, arguments: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _open_request(
        self,
        step_id: str,
        action: str,
        arguments: dict[str, Any],
        context: dict[str, Any],
        requested_by: Actor,
        plan: RequestPlan,
        excluded: set[str] | None = None,
        redacted: list[str] | None = None,
        grant_holder: str | None = None,
    ) -> HumanRequest:
        request_id = f"req_{workflow.uuid4().hex}"
        digest = args_digest(action, arguments)
        roles = plan.eligible_roles(0)
        snapshot = {
            "instance_id": self._start.instance_id,
            "workflow_id": self._start.template.id,
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
            sla_deadline=workflow.now() + plan.sla if plan.sla else None,
            # Opting out of separation of duties is honoured, and recorded with whom it
            # would have excluded; an explicit exclusion (a second sign-off) always holds.
            excluded_approvers=sorted(
                (self._excluded(requested_by) if plan.separation_of_duties else set())
                | (excluded or set())
            ),
            separation_of_duties_waived_for=(
                [] if plan.separation_of_duties else sorted(self._excluded(requested_by))
            ),
            grant_holder=grant_holder or requested_by.id,
            created_at=workflow.now(),
        )
        self._requests[request_id] = request
        self._plans[request_id] = plan
        self._pending_id = request_id
        self._update_quorum(request, plan)
        seq = self._outbox.record(
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
            snapshot=snapshot,
        )
        request.context_snapshot_ref = f"audit:{self._start.instance_id}/{seq}"
        return request

    def _excluded(self, requester: Actor) -> set[str]:
        """Who separation of duties keeps from deciding: the requester, the actor who
        triggered the instance, and the owners of either when they are agents."""
        people = (
            requester.id,
            requester.owner,
            self._start.started_by.id,
            self._start.started_by.owner,
        )
        return {p for p in people if p}

    def _pending_result(self, request: HumanRequest, plan: RequestPlan) -> AuthorizeResult:
        return AuthorizeResult(
            outcome=AuthorizeOutcome.PENDING,
            step_id=request.step_id,
            args_digest=request.args_digest,
            materiality=plan.materiality,
            explanation=plan.explanation,
            request=request,
        )

    def _resolve(self, request: HumanRequest, plan: RequestPlan, d: Decide) -> None:
        """Apply one decision to its request, synchronously (before any await)."""
        if d.decision_type is DecisionType.REJECT:
            request.status = RequestStatus.REJECTED
        elif d.decision_type is DecisionType.OVERRIDE:
            self._resolve_override(request, plan, d)
        else:
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

    def _resolve_override(self, request: HumanRequest, plan: RequestPlan, d: Decide) -> None:
        """An override's edited arguments are re-checked against the pinned policy first.

        If they need more authority (higher materiality, other approvers) or the policy
        wants a second sign-off, the edit becomes a new request for those approvers: an
        override never routes around the policy.
        """
        arguments = {**request.arguments, **(d.context_delta or {})}
        step = self._start.template.step(request.step_id)
        assert step is not None
        context = dict(request.context_snapshot.get("context") or {})
        edited = plan_request(step.policy, self._facts(arguments))
        request.context_delta = d.context_delta
        more = needs_more_authority(plan, edited)
        if more or plan.override_requires_second_signoff:
            request.status = RequestStatus.SUPERSEDED
            request.resolved_at = workflow.now()
            follow_up = edited if more else second_signoff_plan(plan)
            new = self._open_request(
                request.step_id, request.action, arguments, context, d.actor, follow_up,
                excluded={d.actor.id, *request.excluded_approvers},
                redacted=request.context_snapshot.get("redacted"),
                grant_holder=request.grant_holder,
            )  # fmt: skip
            self._outbox.record(
                AuditEventType.REQUEST_SUPERSEDED,
                d.actor,
                {
                    "request_id": request.request_id,
                    "superseded_by": new.request_id,
                    "why": "override needs more authority" if more else "second sign-off",
                    "materiality": edited.materiality,
                },
            )
            return
        request.arguments = arguments
        request.args_digest = args_digest(request.action, arguments)
        request.status = RequestStatus.OVERRIDDEN

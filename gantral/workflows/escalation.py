"""Escalation of one human request: tiers with deadlines, reminders, and on_timeout.

A mixin of `InstanceWorkflow`. The run loop hands each new pending request to
`_supervise`, which waits with `wait_condition` timers (no polling) until the request is
decided, replaced, or every tier has timed out; then the policy's `on_timeout` applies,
taken by the system actor.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from gantral.domain.actors import SYSTEM_ACTOR, Actor
    from gantral.domain.audit_event import AuditEventType
    from gantral.domain.records import HumanRequest, RequestStatus
    from gantral.policy.evaluate import RequestPlan
    from gantral.policy.quorum import roles_in
    from gantral.workflows.audit_outbox import AuditOutbox


class Escalation:
    _outbox: AuditOutbox
    _requests: dict[str, HumanRequest]
    _plans: dict[str, RequestPlan]
    _pending_id: str | None
    _supervised_id: str | None

    def _publish(self) -> None:
        raise NotImplementedError

    async def _apply_outcome(self, request: HumanRequest, actor: Actor, cause: str) -> None:
        raise NotImplementedError

    def _unsupervised(self) -> HumanRequest | None:
        if self._pending_id is None or self._pending_id == self._supervised_id:
            return None
        return self._requests[self._pending_id]

    async def _supervise(self, request: HumanRequest) -> None:
        """Run the escalation chain of one request until it is decided, replaced or times out."""
        plan = self._plans[request.request_id]
        for index, tier in enumerate(plan.tiers):
            if not self._is_open(request):
                return
            if index > 0:
                request.tier = index
                self._outbox.record(
                    AuditEventType.ESCALATED,
                    SYSTEM_ACTOR,
                    {
                        "request_id": request.request_id,
                        "tier": index,
                        "approvers": roles_in(tier.approvers),
                    },
                )
            request.required_approvers = roles_in(tier.approvers)
            request.deadline = workflow.now() + tier.timeout if tier.timeout else None
            self._publish()
            await self._outbox.flush()
            for remind_at in self._reminder_times(tier.reminders, request.deadline):
                if await self._decided_before(request, remind_at):
                    return
                self._outbox.record(
                    AuditEventType.REMINDER_SENT,
                    SYSTEM_ACTOR,
                    {"request_id": request.request_id, "tier": index, "deadline": request.deadline},
                )
                await self._outbox.flush()
            if await self._decided_before(request, request.deadline):
                return
        if self._is_open(request):
            await self._time_out(request, plan)

    def _reminder_times(self, before: list[timedelta], deadline: datetime | None) -> list[datetime]:
        if deadline is None:
            return []
        now = workflow.now()
        return sorted(t for t in (deadline - b for b in before) if t > now)

    def _is_open(self, request: HumanRequest) -> bool:
        return request.status is RequestStatus.PENDING and self._pending_id == request.request_id

    async def _decided_before(self, request: HumanRequest, deadline: datetime | None) -> bool:
        timeout = None if deadline is None else max(deadline - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(lambda: not self._is_open(request), timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def _time_out(self, request: HumanRequest, plan: RequestPlan) -> None:
        """No decision before the last deadline: the policy's on_timeout, taken by the system."""
        outcome = {
            "EXPIRE": RequestStatus.EXPIRED,
            "REJECT": RequestStatus.REJECTED,
            "APPROVE": RequestStatus.APPROVED,
        }[plan.on_timeout.value]
        request.status = outcome
        request.decided_by, request.decided_via = SYSTEM_ACTOR.id, "timeout"
        self._outbox.record(
            AuditEventType.TIMED_OUT,
            SYSTEM_ACTOR,
            {"request_id": request.request_id, "on_timeout": plan.on_timeout, "outcome": outcome},
        )
        await self._apply_outcome(request, SYSTEM_ACTOR, f"timeout: on_timeout={plan.on_timeout}")

    # -- transitions --------------------------------------------------------------------

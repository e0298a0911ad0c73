"""Escalation of a pending request: tiers, reminders and the timeout. The state decides;
the host keeps the time (it runs the timers)."""

from __future__ import annotations

from datetime import datetime, timedelta

from gantral.domain.actors import SYSTEM_ACTOR
from gantral.domain.audit_payloads import Escalated, ReminderSent, TimedOut
from gantral.domain.records import Grant, HumanRequest, RequestStatus
from gantral.policy.quorum import roles_in
from gantral.workflows.state.core import IdSource
from gantral.workflows.state.requests import Requests

__all__ = ["Escalation"]

_TIMEOUT_STATUS = {
    "EXPIRE": RequestStatus.EXPIRED,
    "REJECT": RequestStatus.REJECTED,
    "APPROVE": RequestStatus.APPROVED,
}


class Escalation(Requests):
    """A pending request's escalation chain; the outcome of a timeout is a request's."""

    def is_open(self, request: HumanRequest) -> bool:
        current = self.data.pending_id == request.request_id
        return request.status is RequestStatus.PENDING and current

    def enter_tier(self, request: HumanRequest, index: int, now: datetime) -> None:
        """Tier `index` of the request's escalation chain begins: its approvers, deadline."""
        tier = self.data.plans[request.request_id].tiers[index]
        if index > 0:
            request.tier = index
            self.log.record(
                Escalated(
                    request_id=request.request_id, tier=index, approvers=roles_in(tier.approvers)
                ),
                SYSTEM_ACTOR,
                now,
            )
        request.required_approvers = roles_in(tier.approvers)
        request.deadline = now + tier.timeout if tier.timeout else None

    def reminder_times(self, request: HumanRequest, index: int, now: datetime) -> list[datetime]:
        before: list[timedelta] = self.data.plans[request.request_id].tiers[index].reminders
        deadline = request.deadline
        if deadline is None:
            return []
        return sorted(t for t in (deadline - b for b in before) if t > now)

    def remind(self, request: HumanRequest, index: int, now: datetime) -> None:
        self.log.record(
            ReminderSent(request_id=request.request_id, tier=index, deadline=request.deadline),
            SYSTEM_ACTOR,
            now,
        )

    def time_out(self, request: HumanRequest, now: datetime, ids: IdSource) -> Grant | None:
        """No decision before the last deadline: the policy's on_timeout, by the system."""
        plan = self.data.plans[request.request_id]
        request.status = _TIMEOUT_STATUS[plan.on_timeout.value]
        request.decided_by, request.decided_via = SYSTEM_ACTOR.id, "timeout"
        self.log.record(
            TimedOut(
                request_id=request.request_id, on_timeout=plan.on_timeout, outcome=request.status
            ),
            SYSTEM_ACTOR,
            now,
        )
        cause = f"timeout: on_timeout={plan.on_timeout}"
        return self.record_outcome(request, SYSTEM_ACTOR, cause, now, ids)

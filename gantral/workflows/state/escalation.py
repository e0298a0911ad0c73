"""Escalation of a pending request: tiers, reminders and the timeout. The state decides;
the host keeps the time (it runs the timers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from gantral.domain.actors import SYSTEM_ACTOR
from gantral.domain.audit_payloads import (
    DeadlineFrozen,
    DeadlineResumed,
    Escalated,
    ReminderSent,
    TimedOut,
)
from gantral.domain.records import Grant, HumanRequest, RequestStatus
from gantral.governance.halts import HaltScope, HaltTarget, exempts
from gantral.policy.quorum import roles_in
from gantral.workflows.messages import FrozenDeadline
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
            escalated = Escalated(
                request_id=request.request_id, tier=index, approvers=roles_in(tier.approvers)
            )
            if self.read_model_fields:
                deadline = now + tier.timeout if tier.timeout else None
                escalated = escalated.model_copy(update={"deadline": deadline})
            self.log.record(escalated, SYSTEM_ACTOR, now)
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

    # -- halts: a pending request's deadline is frozen while one holds -------------------

    def note_halt(
        self,
        halt_id: str,
        scope: HaltScope,
        lifted: bool,
        exemptions: Sequence[HaltScope] = (),
    ) -> None:
        """A halt raised (or lifted) over a scope that may cover this instance, with the
        parts of it exempted so far. A lift seen before its raise (deliveries may cross)
        keeps the raise from holding."""
        data, start = self.data, self.start
        # Only what may hold here is kept: an agent's halt (it may have asked for the
        # pending request) or one covering the instance whatever its agent.
        anyone = HaltTarget(start.owning_team_id, start.template.id, start.template.version, "")
        if scope.agent is None and not scope.covers(anyone):
            return
        if lifted:
            data.halt_exemptions.pop(halt_id, None)
            if data.halts.pop(halt_id, None) is None and halt_id not in data.lifted_halts:
                data.lifted_halts.append(halt_id)  # its raise may still be on its way
        elif halt_id not in data.lifted_halts:
            data.halts[halt_id] = scope
            if exemptions:  # exemptions are only ever added: the newest notice has all
                data.halt_exemptions[halt_id] = list(exemptions)

    def holding(self, request: HumanRequest) -> list[str]:
        """The halts that hold over `request`: its instance's team, workflow (version),
        or the agent that asked for it."""
        start = self.start
        target = HaltTarget(
            team=start.owning_team_id,
            workflow=start.template.id,
            version=start.template.version,
            agent=request.requested_by,
        )
        exempted = self.data.halt_exemptions
        return sorted(
            hid
            for hid, scope in self.data.halts.items()
            if scope.covers(target) and not any(exempts(e, target) for e in exempted.get(hid, ()))
        )

    def is_frozen(self, request: HumanRequest) -> bool:
        frozen = self.data.frozen
        return frozen is not None and frozen.request_id == request.request_id

    def sync_freeze(self, now: datetime) -> timedelta | None:
        """Freeze the pending request's deadline if a halt holds over it, or run it again
        once none does (moved by the time it was frozen, which is returned). Recorded."""
        data, request = self.data, self.pending
        if data.frozen is not None and (request is None or not self.is_frozen(request)):
            data.frozen = None  # its request was decided or replaced meanwhile
        if request is None or not self.is_open(request) or request.deadline is None:
            return None
        holding = self.holding(request)
        if holding and data.frozen is None:
            data.frozen = FrozenDeadline(request_id=request.request_id, since=now, halt_ids=holding)
            frozen = DeadlineFrozen(
                request_id=request.request_id,
                halt_ids=holding,
                deadline=request.deadline,
                remaining_seconds=_seconds(request.deadline - now),
            )
            self.log.record(frozen, SYSTEM_ACTOR, now)
            return None
        if data.frozen is None:
            return None
        if holding:  # another halt may hold it too: its lift must also come first
            data.frozen.halt_ids = sorted({*data.frozen.halt_ids, *holding})
            return None
        paused = max(now - data.frozen.since, timedelta(0))
        lifted, data.frozen = data.frozen.halt_ids, None
        request.deadline += paused
        resumed = DeadlineResumed(
            request_id=request.request_id,
            halt_ids=lifted,
            deadline=request.deadline,
            remaining_seconds=_seconds(request.deadline - now),
            frozen_seconds=_seconds(paused),
        )
        self.log.record(resumed, SYSTEM_ACTOR, now)
        return paused


def _seconds(span: timedelta) -> float:
    return round(max(span.total_seconds(), 0.0), 3)

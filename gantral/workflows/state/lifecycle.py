"""An instance's lifecycle: its start, its end (a finish, or a cancel through Temporal)
and its seal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gantral.domain.actors import SYSTEM_ACTOR, Actor, ActorKind
from gantral.domain.audit_payloads import InstanceSealed, InstanceStarted
from gantral.domain.digest import sha256_hex
from gantral.domain.records import RequestStatus
from gantral.domain.states import State, is_allowed
from gantral.errors import Reason
from gantral.workflows.messages import Finish, FinishKind
from gantral.workflows.refusals import conflict
from gantral.workflows.state.core import StateCore

__all__ = ["TEMPORAL_ACTOR", "Lifecycle", "finish_transition"]

# Who ended an instance through Temporal's own API or Web UI (no Gantral principal).
TEMPORAL_ACTOR = Actor(id="temporal", kind=ActorKind.SYSTEM)


class Lifecycle(StateCore):
    """Start, end and seal of an instance."""

    def begin(self, attested: dict[str, Any], now: datetime) -> None:
        """CREATED -> RUNNING, recording the start (`attested`: the API's signed start)."""
        start = self.start
        payload = InstanceStarted(
            workflow_id=start.template.id,
            workflow_version=start.template.version,
            template_hash=start.template_hash,
            owning_team_id=start.owning_team_id,
            trigger_context=start.trigger_context,
            # The exact policy each governed step is pinned to, so the log alone says
            # what governed the instance (and a backtest can compare against it).
            pinned_policies={
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
        )
        if start.shadows:
            payload.shadow_policies = {
                step_id: pin.model_dump(mode="json", include={"ref", "error"}, exclude_none=True)
                for step_id, pin in start.shadows.items()
            }
        if start.callback_url is not None:
            payload.callback_url = start.callback_url
        self.log.record(payload, start.started_by, now)
        self.move(State.RUNNING, "instance started", self.start.started_by, now)

    def seal(self, now: datetime) -> None:
        self.log.record(InstanceSealed(state=self.state), SYSTEM_ACTOR, now)

    def check_finish(self, cmd: Finish) -> None:
        target = State.COMPLETED if cmd.kind is FinishKind.COMPLETE else State.TERMINATED
        if not is_allowed(self.state, target) or (
            cmd.kind is FinishKind.FAIL and self.state is not State.RUNNING
        ):
            raise conflict(
                Reason.NOT_RUNNING, f"instance is {self.state}; cannot {cmd.kind.lower()}"
            )

    def finish(self, cmd: Finish, now: datetime) -> None:
        pending = self.pending
        if pending is not None:
            pending.status = RequestStatus.CANCELLED
            pending.resolved_at = now
            self.data.pending_id = None
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
            self.data.pending_id = None
        for step in (State.RESUMED, State.RUNNING):
            # Mid-outcome (APPROVED, OVERRIDDEN): the outcome's own path first.
            if self.state not in (State.RUNNING, State.WAITING_FOR_HUMAN) and is_allowed(
                self.state, step
            ):
                self.move(step, "execution resumes", SYSTEM_ACTOR, now)
        cause = "cancellation requested through Temporal, not Gantral"
        self.move(State.TERMINATED, cause, TEMPORAL_ACTOR, now)


def finish_transition(cmd: Finish) -> tuple[State, str]:
    """The state a finish moves to and the cause it records: how a repeat of the very
    same finish is recognised once the instance has ended (`GantralCore.finish`)."""
    if cmd.kind is FinishKind.COMPLETE:
        return State.COMPLETED, cmd.reason or "agent reported completion"
    cause = f"{cmd.kind.lower()}: {cmd.reason}" if cmd.reason else cmd.kind.lower()
    return State.TERMINATED, cause

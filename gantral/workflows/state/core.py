"""What every part of an instance's state shares: its data, its start, its audit log, the
reads derived from them, and `move`, the one place a transition happens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from gantral.domain.actors import Actor
from gantral.domain.audit_payloads import StateTransition
from gantral.domain.records import HumanRequest, TransitionRecord
from gantral.domain.states import TERMINAL_STATES, IllegalTransition, State, check_transition
from gantral.errors import Reason
from gantral.policy.facts import step_facts
from gantral.policy.history import history_facts, record, tracked_sums, uses_history
from gantral.workflows.audit_log import AuditLog
from gantral.workflows.idempotency import Outcomes
from gantral.workflows.messages import InstanceData, StartInstance
from gantral.workflows.refusals import conflict

__all__ = ["IdSource", "StateCore"]

IdSource = Callable[[], str]
"""A fresh unique hex id per call (`workflow.uuid4().hex` in the workflow)."""


class StateCore:
    """The parts every section of `InstanceState` works on."""

    def __init__(self, start: StartInstance, data: InstanceData) -> None:
        self.start = start
        self.data = data
        self.log = AuditLog(start.instance_id, after=data.audit.count, head=data.audit.head)
        # The argument sums history-aware rules read; None when no pinned policy (a step's
        # or a shadow) reads the instance's history, which is then not kept at all.
        pinned = [s.policy for s in start.template.steps]
        pinned += [p.policy for p in start.shadows.values() if p.policy is not None]
        self._history_sums = tracked_sums(pinned) if uses_history(pinned) else None
        # Whether HUMAN_REQUESTED and ESCALATED carry the fields the approver inbox's read
        # model needs (their deadline, who is excluded). The workflow sets it from a patch,
        # so histories recorded before replay the payloads they recorded.
        self.read_model_fields = True

    # -- reads ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.data.state

    @property
    def pending(self) -> HumanRequest | None:
        return self.data.requests.get(self.data.pending_id) if self.data.pending_id else None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def outcomes(self) -> Outcomes:
        """The rules over the instance's keyed-call outcomes (`data.outcomes`)."""
        return Outcomes(self.data.outcomes)

    def facts(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """What the step's policy may read: the bound arguments, facts fixed at start and,
        when a pinned policy reads it, the instance's own history."""
        facts = step_facts(
            arguments=arguments,
            trigger_context=self.start.trigger_context,
            owning_team_id=self.start.owning_team_id,
            workflow_id=self.start.template.id,
        )
        if self._history_sums is not None:
            steps = [s.id for s in self.start.template.steps]
            facts["history"] = history_facts(self.data.history, steps, self._history_sums)
        return facts

    def remember(self, step_id: str, outcome: str, arguments: dict[str, Any]) -> None:
        """Count an authorize for history-aware rules (only when a pinned policy reads them)."""
        if self._history_sums is not None:
            record(self.data.history, step_id, outcome, arguments, self._history_sums)

    # -- the one place a transition happens ---------------------------------------------

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
            raise conflict(Reason.ILLEGAL_TRANSITION, str(error)) from None
        record = TransitionRecord(
            seq=len(self.data.transitions) + 1,
            from_state=self.state,
            to_state=target,
            cause=cause,
            actor=actor,
            at=now,
            request_id=request_id,
        )
        self.data.transitions.append(record)
        self.data.state = target
        self.data.updated_at = now
        self.log.record(
            StateTransition.model_validate(record.model_dump(exclude={"actor"})), actor, now
        )

"""The governance logic of one instance, as a plain state object that Temporal only hosts.

`InstanceState` holds everything an instance knows as one value, `InstanceData` (requests,
grants, transitions, cost, outcomes), beside the audit log of what it recorded, and
changes them only through its methods. Each method takes the time (`now`) and, when it
creates something, an id source (`ids`), changes the state and returns what the host must
do next; none makes a Temporal call, and a refusal is a `gantral.errors` exception. The
host (`gantral.workflows.instance`) validates, calls the method, flushes the audit log to
the sink, and publishes the visible state. So every rule here runs, and is tested,
without a server (tests/unit/test_instance_state.py).

One room per concern, composed here:

    core.py        the data, the start, the log, the reads, `move` (every transition)
    requests.py    human requests, their quorum, decisions and what an outcome settles
    escalation.py  tiers, reminders and the timeout of a pending request
    agent.py       the agent protocol: authorize a step, report step events and cost
    lifecycle.py   start, finish, cancel through Temporal, seal
"""

from __future__ import annotations

from datetime import datetime

from gantral.domain.records import HumanRequest
from gantral.workflows.messages import AuditChain, InstanceData, InstanceView, StartInstance
from gantral.workflows.state.agent import MAX_REQUESTS, AgentProtocol, Authorized
from gantral.workflows.state.core import IdSource
from gantral.workflows.state.escalation import Escalation
from gantral.workflows.state.lifecycle import Lifecycle, finish_transition
from gantral.workflows.state.requests import Decided, RequestSpec

__all__ = [
    "MAX_REQUESTS",
    "Authorized",
    "Decided",
    "IdSource",
    "InstanceState",
    "RequestSpec",
    "finish_transition",
]


class InstanceState(AgentProtocol, Escalation, Lifecycle):
    def __init__(self, start: StartInstance, now: datetime) -> None:
        # A continued run picks up the data the last one handed over, whole.
        data = start.carried or InstanceData(created_at=now, updated_at=now)
        super().__init__(start, data)

    def snapshot(self) -> InstanceData:
        """Everything the next run needs: the data, with the audit chain as stored. Resolved
        requests drop the snapshot a human was shown (it is in the audit log) and only the
        pending request keeps its plan, so what is carried stays small."""
        data = self.data
        return data.model_copy(
            update={
                "run": data.run + 1,
                "requests": _shown(data.requests, self.pending),
                "plans": {rid: p for rid, p in data.plans.items() if rid == data.pending_id},
                "audit": AuditChain(count=self.log.count, head=self.log.head),
            }
        )

    def view(self) -> InstanceView:
        """What the API shows, derived from the data."""
        data, start, pending = self.data, self.start, self.pending
        return InstanceView(
            instance_id=start.instance_id,
            workflow_id=start.template.id,
            workflow_version=start.template.version,
            template_hash=start.template_hash,
            owning_team_id=start.owning_team_id,
            trigger_context=start.trigger_context,
            started_by=start.started_by,
            state=data.state,
            created_at=data.created_at,
            updated_at=data.updated_at,
            pending_request=pending,
            # The snapshot a human was shown is stored once in the audit log (referenced
            # by `context_snapshot_ref`); the view carries it only for the pending request,
            # so an instance's view stays small however many requests it has had.
            requests=list(_shown(data.requests, pending).values()),
            decisions=data.decisions,
            transitions=data.transitions,
            cost=data.cost,
            audit_events=self.log.count,
            audit_head=self.log.head,
        )


def _shown(
    requests: dict[str, HumanRequest], pending: HumanRequest | None
) -> dict[str, HumanRequest]:
    """The requests with every snapshot but the pending request's left to the audit log."""
    return {
        rid: r if r is pending else r.model_copy(update={"context_snapshot": {}})
        for rid, r in requests.items()
    }

"""The access log: refused attempts that belong to no instance (starting an instance for a
team one is not in, publishing a policy without the right, listing another team's work).

A long-running workflow receives them as signals and records them through the same
fail-closed audit outbox as instances. The audit log is chained per segment: a segment
is sealed and the workflow continues as new once it holds `SEGMENT_EVENTS` events, so
history stays small and every segment verifies like an instance.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from gantral.domain.actors import SYSTEM_ACTOR
    from gantral.domain.audit_event import AuditEventType
    from gantral.workflows.audit_outbox import AuditOutbox
    from gantral.workflows.messages import Refusal

ACCESS_LOG_WORKFLOW = "GantralAccessLog"
ACCESS_LOG_ID = "gantral-access-log"
SEGMENT_EVENTS = 500


class AccessLogStart(BaseModel):
    audit_task_queue: str = "gantral-audit"
    segment: int = 1


@workflow.defn(name=ACCESS_LOG_WORKFLOW)
class AccessLogWorkflow:
    @workflow.init
    def __init__(self, start: AccessLogStart) -> None:
        self._start = start
        self._outbox = AuditOutbox(f"{ACCESS_LOG_ID}-{start.segment:06d}", start.audit_task_queue)

    @workflow.run
    async def run(self, start: AccessLogStart) -> None:
        await workflow.wait_condition(lambda: self._outbox.count >= SEGMENT_EVENTS)
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._outbox.record(
            AuditEventType.INSTANCE_SEALED, SYSTEM_ACTOR, {"segment": start.segment}
        )
        await self._outbox.flush()
        workflow.continue_as_new(
            AccessLogStart(audit_task_queue=start.audit_task_queue, segment=start.segment + 1)
        )

    @workflow.signal
    async def refused(self, refusal: Refusal) -> None:
        self._outbox.record(
            AuditEventType.ACCESS_REFUSED,
            refusal.actor,
            refusal.model_dump(mode="json", exclude={"actor"}),
        )
        await self._outbox.flush()

    @workflow.query
    def segment_id(self) -> str:
        """The audit instance id the current segment's events are stored under."""
        return f"{ACCESS_LOG_ID}-{self._start.segment:06d}"

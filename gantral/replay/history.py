"""What an instance's Temporal history says the workflow sent to the audit sink.

A history is trusted for nothing by itself: the audit log is the record. What a history
holds is compared with the log (`gantral.replay.compare`), and replayed against today's
code (`gantral.replay.replayer`). Fetching and archiving a history:
`gantral.audit.history_codec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from gantral.domain.audit_event import (
    AUDIT_APPEND_ACTIVITY,
    AppendAuditEvents,
    AppendResult,
    AuditEvent,
    StoredEvent,
)
from gantral.workflows.messages import InstanceView

__all__ = ["HistoryContent", "ScheduledBatch", "read_content"]


@dataclass
class ScheduledBatch:
    """One `gantral.audit.append` the workflow scheduled, and what the sink answered."""

    run_id: str
    event_id: int
    events: list[AuditEvent]
    stored: list[StoredEvent] | None = None


@dataclass
class HistoryContent:
    """What a history says the workflow did, decoded with the workflow's data converter."""

    batches: list[ScheduledBatch] = field(default_factory=list)
    result: InstanceView | None = None
    events: int = 0
    run_ids: list[str] = field(default_factory=list)

    @property
    def audit_events(self) -> list[AuditEvent]:
        """Every audit event sent, in seq order (a retried batch re-sends none)."""
        by_seq: dict[int, AuditEvent] = {}
        for batch in self.batches:
            for event in batch.events:
                by_seq.setdefault(event.seq, event)
        return [by_seq[s] for s in sorted(by_seq)]

    @property
    def stored(self) -> dict[int, StoredEvent]:
        """The sink's answer per seq: the chain hash it stored."""
        out: dict[int, StoredEvent] = {}
        for batch in self.batches:
            for stored in batch.stored or []:
                out.setdefault(stored.seq, stored)
        return out


def read_content(runs: list[WorkflowHistory]) -> HistoryContent:
    content = HistoryContent()
    converter = pydantic_data_converter.payload_converter
    for history in runs:
        run_id = history.run_id
        content.run_ids.append(run_id)
        content.events += len(history.events)
        scheduled: dict[int, ScheduledBatch] = {}
        for event in history.events:
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                sched = event.activity_task_scheduled_event_attributes
                if sched.activity_type.name != AUDIT_APPEND_ACTIVITY:
                    continue
                [batch] = converter.from_payloads(list(sched.input.payloads), [AppendAuditEvents])
                item = ScheduledBatch(run_id, event.event_id, list(batch.events))
                scheduled[event.event_id] = item
                content.batches.append(item)
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                done = event.activity_task_completed_event_attributes
                item_or_none = scheduled.get(done.scheduled_event_id)
                if item_or_none is not None and done.result.payloads:
                    [result] = converter.from_payloads(list(done.result.payloads), [AppendResult])
                    item_or_none.stored = list(result.stored)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                closed = event.workflow_execution_completed_event_attributes
                if closed.result.payloads:
                    [view] = converter.from_payloads(list(closed.result.payloads), [InstanceView])
                    content.result = view
    return content

"""An in-memory audit sink registered under the real activity name, for core tests that
check what the workflow emits without depending on PostgreSQL."""

from __future__ import annotations

import hashlib

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gantral.domain.audit_event import (
    AUDIT_APPEND_ACTIVITY,
    AppendAuditEvents,
    AppendResult,
    AuditEvent,
    StoredEvent,
)


class MemorySink:
    def __init__(self) -> None:
        self.events: dict[str, list[AuditEvent]] = {}
        self.calls = 0

    @activity.defn(name=AUDIT_APPEND_ACTIVITY)
    async def append(self, batch: AppendAuditEvents) -> AppendResult:
        self.calls += 1
        chain = self.events.setdefault(batch.instance_id, [])
        stored = []
        for event in batch.events:
            if event.seq <= len(chain):
                if chain[event.seq - 1] != event:
                    raise ApplicationError("different event at stored seq", non_retryable=True)
            elif event.seq == len(chain) + 1:
                chain.append(event)
            else:
                raise ApplicationError(f"gap before seq {event.seq}")
            digest = hashlib.sha256(event.model_dump_json().encode()).hexdigest()
            stored.append(StoredEvent(seq=event.seq, hash=digest))
        return AppendResult(stored=stored)

    def types(self, instance_id: str) -> list[str]:
        return [e.type.value for e in self.events.get(instance_id, [])]

"""Ordered, fail-closed delivery of audit events from the workflow to the audit sink.

`AuditLog` is the pure part: events get their sequence number synchronously when
recorded, so concurrent handlers cannot interleave a chain. `AuditOutbox` is the
Temporal part: `flush` sends everything not yet stored, in order, as one batch (one
activity, one transaction in the sink) under a lock, and only returns once the sink has
durably stored it. Concurrent flushes coalesce: whoever holds the lock sends every event
recorded so far, and the others find them stored.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from gantral.domain.actors import Actor
    from gantral.domain.audit_event import (
        AUDIT_APPEND_ACTIVITY,
        AppendAuditEvents,
        AppendResult,
        AuditEvent,
        AuditEventType,
        StoredEvent,
    )
    from gantral.domain.audit_payloads import check_payload
    from gantral.domain.ijson import find_violation
    from gantral.workflows.refusals import invalid

__all__ = ["AuditLog", "AuditOutbox"]

# Unlimited attempts: if the sink or its database is down, the instance waits, it never skips.
_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=0,
)

# Free-form fields are limited to ijson.MAX_DEPTH; events wrap them a few levels deeper.
_EVENT_DEPTH = 48


class AuditLog:
    """The events one instance (or access-log segment) recorded, and which are stored."""

    def __init__(self, instance_id: str, *, after: int = 0, head: str | None = None) -> None:
        """`after`/`head`: the chain so far, when a run continues an instance (all of it
        stored by the sink: a run continues as new only once its log is flushed)."""
        self.instance_id = instance_id
        self._after = after
        self._carried_head = head
        self._events: list[AuditEvent] = []
        self._stored: list[StoredEvent] = []

    @property
    def count(self) -> int:
        return self._after + len(self._events)

    @property
    def head(self) -> str | None:
        return self._stored[-1].hash if self._stored else self._carried_head

    @property
    def all_stored(self) -> bool:
        return len(self._stored) >= len(self._events)

    def record(
        self,
        type_: AuditEventType,
        actor: Actor,
        payload: dict[str, Any],
        at: datetime,
        snapshot: dict[str, Any] | None = None,
    ) -> int:
        event = AuditEvent(
            instance_id=self.instance_id,
            seq=self.count + 1,
            type=type_,
            at=at,
            actor=actor,
            payload=payload,
            snapshot=snapshot,
        )
        # Every payload fits the one schema of its type (specs/audit-events.schema.json).
        try:
            check_payload(type_, payload)
        except ValueError as error:
            raise invalid("payload_schema", f"audit event {type_}: {error}") from None
        # Nothing the sink's canonical encoder would refuse may enter the outbox: it would
        # block every later flush of the instance. Validators refuse such input first.
        stored = event.model_dump(mode="json", include={"payload", "snapshot"})
        violation = find_violation(stored, "$", max_depth=_EVENT_DEPTH)
        if violation is not None:
            raise invalid(violation.reason, f"audit event {type_}: {violation.message}")
        self._events.append(event)
        return event.seq

    def unsent(self) -> list[AuditEvent]:
        return self._events[len(self._stored) :]

    def mark_stored(self, stored: list[StoredEvent]) -> None:
        self._stored.extend(stored)


class AuditOutbox:
    def __init__(self, instance_id: str, task_queue: str, log: AuditLog | None = None) -> None:
        self.log = log or AuditLog(instance_id)
        self._task_queue = task_queue
        self._lock = asyncio.Lock()

    @property
    def count(self) -> int:
        return self.log.count

    @property
    def head(self) -> str | None:
        return self.log.head

    def record(
        self,
        type_: AuditEventType,
        actor: Actor,
        payload: dict[str, Any],
        snapshot: dict[str, Any] | None = None,
    ) -> int:
        return self.log.record(type_, actor, payload, workflow.now(), snapshot)

    async def flush(self) -> None:
        async with self._lock:
            pending = self.log.unsent()
            if not pending:
                return
            first, last = pending[0].seq, pending[-1].seq
            result = await workflow.execute_activity(
                AUDIT_APPEND_ACTIVITY,
                AppendAuditEvents(instance_id=self.log.instance_id, events=pending),
                task_queue=self._task_queue,
                start_to_close_timeout=timedelta(seconds=30),
                # The sink heartbeats while appending: an attempt lost to a sink that stopped
                # at that instant is retried after 5 s, not after the 30 s above.
                heartbeat_timeout=timedelta(seconds=5),
                retry_policy=_RETRY,
                result_type=AppendResult,
                summary=f"audit batch seq {first}-{last}",
            )
            self.log.mark_stored(result.stored)

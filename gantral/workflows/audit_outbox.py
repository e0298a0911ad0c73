"""Ordered, fail-closed delivery of audit events from the workflow to the audit sink.

Events get their sequence number synchronously when recorded, so concurrent handlers
cannot interleave a chain. `flush` sends everything not yet stored, in order, under a
lock, and only returns once the sink has durably stored it: callers await it before
moving past a decision or into a terminal state.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
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
    from gantral.domain.ijson import find_violation
    from gantral.workflows.refusals import invalid

# Unlimited attempts: if the sink or its database is down, the instance waits, it never skips.
_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=0,
)


# Free-form fields are limited to ijson.MAX_DEPTH; events wrap them a few levels deeper.
_EVENT_DEPTH = 48


class AuditOutbox:
    def __init__(self, instance_id: str, task_queue: str) -> None:
        self._instance_id = instance_id
        self._task_queue = task_queue
        self._events: list[AuditEvent] = []
        self._stored: list[StoredEvent] = []
        self._lock = asyncio.Lock()

    @property
    def count(self) -> int:
        return len(self._events)

    @property
    def head(self) -> str | None:
        return self._stored[-1].hash if self._stored else None

    def record(
        self,
        type_: AuditEventType,
        actor: Actor,
        payload: dict[str, Any],
        snapshot: dict[str, Any] | None = None,
    ) -> int:
        event = AuditEvent(
            instance_id=self._instance_id,
            seq=len(self._events) + 1,
            type=type_,
            at=workflow.now(),
            actor=actor,
            payload=payload,
            snapshot=snapshot,
        )
        # Nothing the sink's canonical encoder would refuse may enter the outbox: it would
        # block every later flush of the instance. Validators refuse such input first.
        stored = event.model_dump(mode="json", include={"payload", "snapshot"})
        violation = find_violation(stored, "$", max_depth=_EVENT_DEPTH)
        if violation is not None:
            raise invalid(violation.reason, f"audit event {type_}: {violation.message}")
        self._events.append(event)
        return event.seq

    async def flush(self) -> None:
        async with self._lock:
            pending = self._events[len(self._stored) :]
            if not pending:
                return
            result = await workflow.execute_activity(
                AUDIT_APPEND_ACTIVITY,
                AppendAuditEvents(instance_id=self._instance_id, events=pending),
                task_queue=self._task_queue,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_RETRY,
                result_type=AppendResult,
            )
            self._stored.extend(result.stored)

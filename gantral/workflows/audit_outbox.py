"""Ordered, fail-closed delivery of audit events from the workflow to the audit sink.

`AuditLog` (`gantral.workflows.audit_log`) is the pure part: events get their sequence
number synchronously when recorded, so concurrent handlers cannot interleave a chain.
`AuditOutbox` is the Temporal part: `flush` sends everything not yet stored, in order,
as one batch (one activity, one transaction in the sink) under a lock, and only returns
once the sink has durably stored it. Concurrent flushes coalesce: whoever holds the lock
sends every event recorded so far, and the others find them stored.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from gantral.domain.actors import Actor
    from gantral.domain.audit_event import AppendAuditEvents
    from gantral.domain.audit_payloads import AuditPayload
    from gantral.workflows.audit_append import append_audit_events
    from gantral.workflows.audit_log import AuditLog

__all__ = ["AuditOutbox"]

# Unlimited attempts: if the sink or its database is down, the instance waits, it never skips.
_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=0,
)


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
        self, payload: AuditPayload, actor: Actor, snapshot: dict[str, Any] | None = None
    ) -> int:
        return self.log.record(payload, actor, workflow.now(), snapshot)

    async def flush(self) -> None:
        async with self._lock:
            pending = self.log.unsent()
            if not pending:
                return
            first, last = pending[0].seq, pending[-1].seq
            result = await workflow.execute_activity(
                append_audit_events,
                AppendAuditEvents(instance_id=self.log.instance_id, events=pending),
                task_queue=self._task_queue,
                start_to_close_timeout=timedelta(seconds=30),
                # The sink heartbeats while appending: an attempt lost to a sink that stopped
                # at that instant is retried after 5 s, not after the 30 s above.
                heartbeat_timeout=timedelta(seconds=5),
                retry_policy=_RETRY,
                summary=f"audit batch seq {first}-{last}",
            )
            self.log.mark_stored(result.stored)

"""Ordered, fail-closed delivery of audit events from the workflow to the audit sink.

`AuditLog` (`gantral.workflows.audit_log`) is the pure part: events get their sequence
number synchronously when recorded, so concurrent handlers cannot interleave a chain.
`AuditOutbox` is the Temporal part: `flush` sends everything not yet stored, in order,
as one batch (one activity, one transaction in the sink), and only returns once the sink
has durably stored it. Concurrent flushes coalesce: a batch carries every event recorded
so far, and a flush whose events an earlier batch carries waits for that batch.

A flush someone waits on (`urgent`: a grant, a start) does not queue behind a batch in
flight: it sends at once every event not yet stored, repeating the in-flight ones. The
sink stores one batch after the other under its lock and finds the repeated events stored
(identical events are no-ops), so the chain keeps its order and a grant waits for one
sink round trip, not two. Background flushes (reports, refusals) still wait their turn,
so under load they merge into few batches.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    def __init__(
        self,
        instance_id: str,
        task_queue: str,
        log: AuditLog | None = None,
        *,
        overlapping: bool = False,
    ) -> None:
        """`overlapping`: urgent flushes may send while a batch is in flight (histories
        recorded before that send strictly one batch after the other)."""
        self.log = log or AuditLog(instance_id)
        self._task_queue = task_queue
        self._lock = asyncio.Lock()
        self._overlapping = overlapping
        # The highest seq some batch carried (in flight or stored), and how many are out.
        self._sent = self.log.stored_upto
        self._in_flight = 0
        self._hurry = False
        # Deferred flushes waiting (`flush_soon`), and whether a hurry drops them because
        # the caller's own batch carries their events (`hurry(carried=True)`).
        self._deferred = 0
        self._carried = False

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

    async def flush(self, *, urgent: bool = True) -> None:
        """Return once every event recorded so far is stored (raises what the sink
        refused). `urgent=False`: a background delivery nobody waits on."""
        if not self._overlapping:
            async with self._lock:
                if self.log.unsent():
                    await self._send()
            return
        target = self.log.count

        def may_send() -> bool:
            return self._sent < target and (urgent or self._in_flight == 0)

        while self.log.stored_upto < target:
            if may_send():
                await self._send()
            else:
                await workflow.wait_condition(lambda: self.log.stored_upto >= target or may_send())

    async def flush_soon(self, delay: timedelta, what: str) -> None:
        """A background flush that first waits up to `delay` for a batch to carry these
        events anyway (the next call's), so a report opening a step and the one closing
        it travel together. A timer, cancelled when not needed: no round trip of its own."""
        target = self.log.count
        self._deferred += 1
        try:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._sent >= target or self._hurry,
                    timeout=delay,
                    timeout_summary=f"audit batch deferred: {what}",
                )
        finally:
            self._deferred -= 1
        if self._hurry and self._carried:
            return  # the batch that hurried it carries these events
        await self.flush(urgent=False)

    @property
    def deferring(self) -> bool:
        """Whether a deferred flush is waiting for its batch."""
        return self._deferred > 0

    def hurry(self, *, carried: bool = False) -> None:
        """Deferred flushes go now: the run is about to end or continue as new. With
        `carried`, they send nothing: the caller's next flush carries their events (the
        end with the seal, or the hand-over's batch)."""
        self._hurry = True
        self._carried = self._carried or carried

    async def _send(self) -> None:
        """One batch: every event not yet stored."""
        pending = self.log.unsent()
        first, last = pending[0].seq, pending[-1].seq
        self._sent = max(self._sent, last)
        self._in_flight += 1
        try:
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
        except BaseException:
            # Not carried after all: a waiting flush sends again (and meets the refusal).
            self._sent = self.log.stored_upto
            raise
        finally:
            self._in_flight -= 1
        self.log.mark_stored(result.stored)

"""Heartbeats for the audit append, so a lost attempt is retried in seconds, not 30.

When a worker stops, the Temporal SDK interrupts its outstanding polls; a task the server
dispatched to one of them at that instant is recorded as started but never runs, and is
retried only when a timeout fires. With a heartbeat timeout on the activity (a few
seconds) that is the timeout that fires; a running append heartbeats well within it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gantral.activities.audit_sink import AuditSinkActivities
from gantral.domain.audit_event import AUDIT_APPEND_ACTIVITY, AppendAuditEvents, AppendResult
from gantral.errors import Forbidden
from gantral.observability import context
from gantral.observability.metrics import GantralMetrics

__all__ = ["HEARTBEAT_EVERY_SECONDS", "append_with_heartbeats", "heartbeating"]

HEARTBEAT_EVERY_SECONDS = 1.0


@contextlib.asynccontextmanager
async def heartbeating(every: float = HEARTBEAT_EVERY_SECONDS) -> AsyncIterator[None]:
    """Heartbeat the running activity every `every` seconds while the block runs."""

    async def _beat() -> None:
        # Not at once: an append done within `every` (nearly all) sends none. Each heartbeat
        # is a write on the server, and the timeout counts from the attempt's start anyway.
        while True:
            await asyncio.sleep(every)
            activity.heartbeat()

    beats = asyncio.create_task(_beat())
    try:
        yield
    finally:
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beats


def append_with_heartbeats(
    activities: AuditSinkActivities, metrics: GantralMetrics | None = None
) -> Callable[[AppendAuditEvents], Awaitable[AppendResult]]:
    """The `gantral.audit.append` activity of `activities`, heartbeating while it runs;
    each batch's result is counted into `metrics` (its events are counted by the writer,
    once, when it commits them)."""

    @activity.defn(name=AUDIT_APPEND_ACTIVITY)
    async def append(request: AppendAuditEvents) -> AppendResult:
        # Logs and spans of this append (PostgreSQL's included) name the instance.
        token = context.instance_id.set(request.instance_id)
        try:
            async with heartbeating():
                result = await activities.append(request)
        except ApplicationError as error:
            if metrics is not None:
                if error.non_retryable:
                    metrics.refused(_refusal_reason(error))
                else:
                    metrics.failed()
            raise
        finally:
            context.instance_id.reset(token)
        if metrics is not None:
            metrics.stored()
        return result

    return append


def _refusal_reason(error: ApplicationError) -> str:
    """`attestation` when the batch carried a start or decision the API did not sign."""
    text = str(error).lower()
    if error.type == Forbidden.code and ("attest" in text or "signature" in text):
        return "attestation"
    return str(error.type or "refused")

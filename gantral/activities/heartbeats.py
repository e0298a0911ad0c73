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

from gantral.activities.audit_sink import AuditSinkActivities
from gantral.domain.audit_event import AUDIT_APPEND_ACTIVITY, AppendAuditEvents, AppendResult

__all__ = ["HEARTBEAT_EVERY_SECONDS", "append_with_heartbeats", "heartbeating"]

HEARTBEAT_EVERY_SECONDS = 1.0


@contextlib.asynccontextmanager
async def heartbeating(every: float = HEARTBEAT_EVERY_SECONDS) -> AsyncIterator[None]:
    """Heartbeat the running activity every `every` seconds while the block runs."""

    async def _beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    beats = asyncio.create_task(_beat())
    try:
        yield
    finally:
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beats


def append_with_heartbeats(
    activities: AuditSinkActivities,
) -> Callable[[AppendAuditEvents], Awaitable[AppendResult]]:
    """The `gantral.audit.append` activity of `activities`, heartbeating while it runs."""

    @activity.defn(name=AUDIT_APPEND_ACTIVITY)
    async def append(request: AppendAuditEvents) -> AppendResult:
        async with heartbeating():
            return await activities.append(request)

    return append

"""The SIEM exporter's loop: committed audit events, in log order, to one output, at
least once, resumable from the stored cursor after any crash.

Fed by the audit log as committed (never by the workflow): read the events after the
cursor, hand them over, and only then move the cursor. A crash between the two hands the
same events over again, so receivers de-duplicate by the event id (`instance_id:seq`).
Events go out one at a time in log order, so each instance's events arrive in seq order.
An event that cannot be delivered is dead-lettered (stored with its record and the last
error, and counted) and the stream moves on: nothing is silently lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from gantral.audit.db import Database
from gantral.audit.rows import EventRow
from gantral.audit.siem_feed import DeadLetter, ExportLease, ExportState, committed_after
from gantral.audit.siem_outputs import CloudEventsPoster, JsonLines
from gantral.audit.siem_records import cloud_event, event_id, ocsf_record

__all__ = ["ExportCounters", "SiemExporter"]

log = logging.getLogger("gantral.exporter")


def _noop(_: int) -> None:
    return None


@dataclass
class ExportCounters:
    """What the process's metrics observe: exported, retried and dead-lettered events,
    and the cursor."""

    exported: Callable[[int], None] = _noop
    retried: Callable[[int], None] = _noop
    dead_lettered: Callable[[int], None] = _noop
    cursor: Callable[[int], None] = _noop


class SiemExporter:
    def __init__(
        self,
        name: str,
        audit: Database,
        state: ExportState,
        source: str,
        *,
        poster: CloudEventsPoster | None = None,
        lines: JsonLines | None = None,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        counters: ExportCounters | None = None,
        lease: ExportLease | None = None,
    ) -> None:
        if (poster is None) == (lines is None):
            raise ValueError("give exactly one output: poster or lines")
        self.name = name
        self.audit = audit
        self.state = state
        self.source = source
        self.poster = poster
        self.lines = lines
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.counters = counters or ExportCounters()
        self.lease = lease

    async def run(self, stop: asyncio.Event) -> None:
        """Export until `stop` is set; a failing read or cursor write is retried. With a
        lease, only while it is held: a standby polls for it."""
        try:
            while not stop.is_set():
                moved = 0
                if self.lease is None or await self.lease.hold():
                    try:
                        moved = await self.step(stop)
                    except Exception as error:  # the database is down: the cursor holds
                        log.warning("export step failed: %s: %s", type(error).__name__, error)
                if moved == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.poll_interval)
        finally:
            if self.lease is not None:
                await self.lease.release()

    async def step(self, stop: asyncio.Event | None = None) -> int:
        """Export one batch; returns how many events the cursor moved past."""
        stop = stop or asyncio.Event()
        cursor = await self.state.cursor(self.name)
        rows = await committed_after(self.audit, cursor, self.batch_size)
        if not rows:
            self.counters.cursor(cursor)
            return 0
        done = await self._post(rows, stop) if self.poster else await self._write(rows)
        if done:
            await self.state.advance(self.name, done[-1].log_index)
            self.counters.cursor(done[-1].log_index)
        return len(done)

    async def _write(self, rows: list[EventRow]) -> list[EventRow]:
        assert self.lines is not None
        for row in rows:
            self.lines.write(ocsf_record(row, self.source))
        self.lines.flush()  # durable before the cursor moves past them
        self.counters.exported(len(rows))
        return rows

    async def _post(self, rows: list[EventRow], stop: asyncio.Event) -> list[EventRow]:
        assert self.poster is not None
        done: list[EventRow] = []
        for row in rows:
            record = cloud_event(row, self.source)
            outcome = await self.poster.deliver(
                record, stop, on_retry=lambda: self.counters.retried(1)
            )
            if outcome is None:  # stopping: the cursor stays before this event
                break
            if outcome.error is None:
                self.counters.exported(1)
            else:
                letter = DeadLetter(
                    row.log_index, event_id(row), outcome.attempts, outcome.error, record
                )
                await self.state.dead_letter(self.name, letter)
                self.counters.dead_lettered(1)
                log.error(
                    "dead-lettered audit event %s (log index %d) after %d attempt(s): %s",
                    letter.event_id,
                    row.log_index,
                    outcome.attempts,
                    outcome.error,
                )
            done.append(row)
        return done

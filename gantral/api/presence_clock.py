"""The presence clock: sweeps for requests nobody present can decide when nobody asks.

`PresenceWatch` looks at a request when `authorize` answers PENDING and when a delegation
in effect now is set. Two cases no call marks: a delegation whose window starts later (at
its start the delegator is away, and a request only they could decide has nobody), and a
request nobody asks about again. So, with a role directory and the audit reader, the API
sweeps the open requests (`PresenceWatch.sweep`) when it starts, at the start of each
delegation window (the next one read from the stored delegations before every wait, so a
restart or a delegation set on another replica is seen by the next pass), and at least
every `delegations.presence_sweep_seconds`. A window's end only brings a human back: no
wake. Every replica sweeps; what a second sweep sends is dropped by the workflow.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from gantral.api.presence import PresenceWatch

__all__ = ["PresenceClock"]

log = logging.getLogger("gantral.governance.presence")

# Woken this much after a window's start, so the delegation is in effect when looked at.
_AFTER_START = timedelta(milliseconds=50)


class PresenceClock:
    def __init__(self, watch: PresenceWatch, interval: float) -> None:
        self.watch = watch
        self.interval = interval
        # Sweeps completed (failed or not): tells a pass that found nothing from one that
        # has not run yet.
        self.passes = 0

    async def run(self) -> None:
        """Sweep, wait for the next window's start or the interval, repeat; never ends
        by itself (cancelled when the API stops)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                escalated = await self.watch.sweep()
                if escalated:
                    log.info("presence sweep escalated %d request(s)", escalated)
            except Exception:  # a database or Temporal outage: the next pass retries
                log.exception("presence sweep failed; retrying in the next pass")
            self.passes += 1
            due = loop.time() + self.interval
            while True:  # a delegation set here may start sooner: wait again, not sweep
                self.watch.changed.clear()
                wait = await self._until_next(max(0.0, due - loop.time()))
                try:
                    await asyncio.wait_for(self.watch.changed.wait(), timeout=wait)
                except TimeoutError:
                    break

    async def _until_next(self, most: float) -> float:
        """Seconds until the next pass: `most`, or fewer when a window starts sooner."""
        try:
            now = self.watch.book.now()
            starts = [d.starts_at for d in await self.watch.book.store.current(now)]
        except Exception:  # unreadable delegations: the periodic pass still runs
            log.exception("delegations unreadable; next presence sweep in %.0f s", most)
            return most
        later = [s for s in starts if s > now]
        if not later:
            return most
        return max(0.0, min(most, (min(later) + _AFTER_START - now).total_seconds()))

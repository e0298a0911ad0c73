"""The presence clock (issue 24, out of office): a sweep when the API starts, at the start
of each delegation window (read from the stored delegations, so one set later, here or on
another replica, is seen by the next wait), and at least every configured interval, which
is validated when the settings are read."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import cast

import pytest
from pydantic import ValidationError

from gantral.api.presence import PresenceWatch
from gantral.api.presence_clock import PresenceClock
from gantral.core import GantralCore
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.delegation_store import InMemoryDelegationStore
from gantral.governance.delegations import Delegation
from gantral.governance.role_directory import RoleDirectory
from gantral.settings import Settings


def test_the_sweep_interval_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().delegations.presence_sweep_seconds == 60.0
    monkeypatch.setenv("GANTRAL_DELEGATIONS__PRESENCE_SWEEP_SECONDS", "5")
    assert Settings().delegations.presence_sweep_seconds == 5.0
    for bad in ("0", "0.5", "-1", "3601", "soon", "nan"):
        monkeypatch.setenv("GANTRAL_DELEGATIONS__PRESENCE_SWEEP_SECONDS", bad)
        with pytest.raises(ValidationError, match="presence_sweep_seconds"):
            Settings()


def starting_in(book: DelegationBook, who: str, seconds: float) -> Delegation:
    now = book.now()
    return Delegation(
        delegation_id=f"dlg_{who}",
        delegator=who,
        deputy="dana",
        roles=["TECH_LEAD"],
        teams=None,
        starts_at=now + timedelta(seconds=seconds),
        ends_at=now + timedelta(hours=1),
        created_at=now,
    )


async def passes_reach(clock: PresenceClock, count: int, within: float) -> float:
    """Seconds until the clock has completed `count` sweeps (fails after `within`)."""
    began = time.monotonic()
    while clock.passes < count:
        assert time.monotonic() - began < within, f"{clock.passes} passes, not {count}"
        await asyncio.sleep(0.02)
    return time.monotonic() - began


@pytest.mark.asyncio
async def test_the_clock_sweeps_at_start_at_each_window_start_and_on_its_interval() -> None:
    book = DelegationBook(InMemoryDelegationStore(), max_window=timedelta(days=1))
    # No audit reader: each sweep finds nothing, and the clock still counts its passes.
    watch = PresenceWatch(RoleDirectory({}), book, cast(GantralCore, None), None)
    await book.store.add(starting_in(book, "lee", 0.5))  # stored before the API starts
    # The interval is long beside the windows (0.5 s, 0.4 s) so that a wake by a window
    # and one by the interval stay apart on a loaded machine.
    clock = PresenceClock(watch, interval=3.0)
    task = asyncio.create_task(clock.run())
    try:
        await passes_reach(clock, 1, within=2)  # the pass at start-up
        took = await passes_reach(clock, 2, within=5)  # lee's window starts
        assert took < 2.5, "woken by the window's start, not the interval"
        # A delegation set here, starting well before the interval runs out: a wake for
        # it, and no sweep for being told alone.
        await book.store.add(starting_in(book, "kim", 0.4))
        watch.changed.set()
        await asyncio.sleep(0.1)
        assert clock.passes == 2
        took = await passes_reach(clock, 3, within=5)
        assert took < 2.5, "woken by kim's window's start, not the interval"
        # Nothing else starts: the next pass comes with the interval.
        took = await passes_reach(clock, 4, within=10)
        assert took > 2.5
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

"""The audit append's heartbeats: none for an append done within the interval (each is a
write on the Temporal server), then one per interval while it runs."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from gantral.activities.heartbeats import heartbeating


async def _beats_while(seconds: float) -> int:
    beats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)

    @activity.defn
    async def append() -> None:
        async with heartbeating(every=0.1):
            await asyncio.sleep(seconds)

    await env.run(append)
    return len(beats)


async def test_an_append_done_within_the_interval_sends_no_heartbeat() -> None:
    assert await _beats_while(0) == 0
    assert await _beats_while(0.05) == 0


async def test_a_long_append_heartbeats_every_interval() -> None:
    assert 2 <= await _beats_while(0.35) <= 4

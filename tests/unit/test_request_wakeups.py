"""Long-poll wake-ups without a reachable database: local waiters still wake, nothing
raises, and the listener keeps retrying instead of ending."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from gantral.domain.records import HumanRequest
from gantral.request_wakeups import RequestWakeups

# Nothing listens on port 9 of the loopback: every connection is refused at once.
UNREACHABLE = "postgresql://gantral@127.0.0.1:9/gantral?connect_timeout=1"

REQUEST = {
    "request_id": "r1", "step_id": "deploy", "action": "deploy", "arguments": {},
    "args_digest": "0" * 64, "materiality": "HIGH", "required_approvers": ["TECH_LEAD"],
    "deadline": None, "context_snapshot": {}, "created_at": "2026-12-07T00:00:00Z",
    "resolved_at": "2026-12-07T00:00:01Z",
}  # fmt: skip


async def test_a_decision_wakes_only_the_waiters_of_its_request() -> None:
    wakeups = RequestWakeups()
    with wakeups.waiter("i1", "r1") as mine, wakeups.waiter("i1", "r2") as other:
        wakeups.decided("i1", "r1")
        assert mine.event.is_set() and not other.event.is_set()
        assert mine.request is None  # told of a decision only: the waiter polls
    wakeups.decided("i1", "r1")  # nobody waits any more: nothing to wake, no error


async def test_a_settled_request_is_handed_to_every_waiter_and_kept_over_a_later_wake() -> None:
    wakeups = RequestWakeups()
    settled = HumanRequest.model_validate(REQUEST)
    with wakeups.waiter("i1", "r1") as one, wakeups.waiter("i1", "r1") as two:
        wakeups.decided("i1", "r1", settled)
        assert one.request is settled and two.request is settled
        one.event.clear()
        wakeups.decided("i1", "r1")  # another replica's notification: nothing to hand over
        assert one.event.is_set() and one.request is settled


async def test_without_the_database_decisions_still_wake_here_and_nothing_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gantral.api")
    wakeups = RequestWakeups(UNREACHABLE)
    listening = asyncio.create_task(wakeups.listen())
    try:
        with wakeups.waiter("i1", "r1") as mine:
            wakeups.decided("i1", "r1")
            assert mine.event.is_set()
        for _ in range(100):  # the refused NOTIFY is logged by its own task
            if "could not tell other replicas" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "could not tell other replicas" in caplog.text
        assert not listening.done()  # still retrying
        assert not wakeups.listening
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening

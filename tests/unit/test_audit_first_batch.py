"""The audit routes' wait for a live instance's first batch (`api/audit_first_batch`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import pytest

from gantral.api import audit_first_batch
from gantral.api.audit_first_batch import first_batch
from gantral.errors import NotFound, Reason


class Reader:
    """Answers `has_events` as its `stored_after` says (seconds from its creation)."""

    def __init__(self, stored_after: float | None) -> None:
        self.born = time.monotonic()
        self.stored_after = stored_after
        self.asked = 0

    async def has_events(self, instance_id: str) -> bool:
        self.asked += 1
        return self.stored_after is not None and time.monotonic() - self.born >= self.stored_after


class Core:
    def __init__(self, answer: str | Exception | None) -> None:
        self.answer = answer
        self.asked = 0

    async def owning_team(self, instance_id: str) -> str:
        self.asked += 1
        if self.answer is None:
            await asyncio.sleep(3600)  # Temporal unreachable: the call never returns
        if isinstance(self.answer, Exception):
            raise self.answer
        return str(self.answer)


async def _wait(reader: Reader, core: Core | None) -> float:
    started = time.monotonic()
    async with asyncio.timeout(10):
        await first_batch(cast(Any, reader), cast(Any, core), "inst_x")
    return time.monotonic() - started


async def test_a_stored_trail_is_read_at_once_without_asking_temporal() -> None:
    core, reader = Core("payments"), Reader(0.0)
    assert await _wait(reader, core) < 0.5 and (core.asked, reader.asked) == (0, 1)


async def test_an_unknown_id_is_answered_at_once() -> None:
    unknown = NotFound("unknown instance", reason=Reason.UNKNOWN_INSTANCE)
    reader = Reader(None)
    assert await _wait(reader, Core(unknown)) < 0.5 and reader.asked == 1


async def test_a_live_instance_is_waited_for_until_its_first_batch() -> None:
    reader = Reader(0.3)
    waited = await _wait(reader, Core("payments"))
    assert 0.3 <= waited < 1.5 and reader.asked > 2


async def test_the_wait_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_first_batch, "FIRST_BATCH_WAIT", 0.3)
    assert 0.3 <= await _wait(Reader(None), Core("payments")) < 1.5


async def test_temporal_unreachable_costs_a_second_at_most() -> None:
    reader = Reader(None)
    assert 0.9 <= await _wait(reader, Core(None)) < 1.9 and reader.asked == 1


async def test_without_a_core_nothing_is_waited_for() -> None:
    reader = Reader(None)
    assert await _wait(reader, None) < 0.5 and reader.asked == 0

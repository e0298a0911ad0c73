"""The presence sweep's bounds (issue 24): a pass screens at most so many open requests,
and the next goes on after the last one screened, so none is left out for good however
many are open; a pass that fails starts again where it had started. The clock that runs
it outlives a store that is down, and wakes for a window's start only when it is soon."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from gantral.api import presence
from gantral.api.presence import PresenceWatch
from gantral.api.presence_clock import PresenceClock
from gantral.audit.pending import PageKey, PendingRequest
from gantral.audit.reader import AuditReader
from gantral.core import GantralCore
from gantral.errors import NotFound, Reason, Unavailable
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.delegation_store import InMemoryDelegationStore
from gantral.governance.delegations import Delegation
from gantral.governance.role_directory import RoleDirectory

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
# Lee, the only TECH_LEAD, may not decide any of them: each is worth a look.
ROWS = [
    PendingRequest(
        request_id=f"req_{n:02}",
        instance_id=f"inst_{n:02}",
        workflow_id="w",
        team_id="pay",
        deadline=NOW + timedelta(minutes=n),
        opened_at=NOW,
        roles_needed=["TECH_LEAD"],
        still_needed=["TECH_LEAD"],
        tier=0,
        approved_by=[],
        excluded=["lee"],
    )
    for n in range(10)
]


class Reader:
    def __init__(self) -> None:
        self.down = False

    async def pending(
        self,
        *,
        teams: Sequence[str] | None,
        roles: Sequence[str] | None,
        actor_id: str | None,
        after: PageKey | None,
        limit: int,
    ) -> list[PendingRequest]:
        if self.down:
            raise Unavailable("read model down", reason=Reason.AUDIT_UNAVAILABLE)
        # Request ids sort as the rows' keys do (the deadlines).
        rows = [r for r in ROWS if after is None or r.request_id > after[2]]
        return rows[:limit]


class Core:
    """Every request read is gone by then: the sweep only notes which it read."""

    def __init__(self) -> None:
        self.read: list[str] = []

    async def get_request(self, instance_id: str, request_id: str) -> Any:
        self.read.append(request_id)
        raise NotFound("gone", reason=Reason.UNKNOWN_REQUEST)


def watching(reader: Reader, core: Core, store: InMemoryDelegationStore) -> PresenceWatch:
    book = DelegationBook(store, max_window=timedelta(days=30), clock=lambda: NOW)
    return PresenceWatch(
        RoleDirectory.model_validate({"pay": {"TECH_LEAD": ["lee"]}}),
        book,
        cast(GantralCore, core),
        cast(AuditReader, reader),
    )


async def test_each_pass_goes_on_where_the_last_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presence, "_SWEEP_MOST", 4)
    monkeypatch.setattr(presence, "_PAGE", 2)
    reader, core = Reader(), Core()
    watch = watching(reader, core, InMemoryDelegationStore())

    async def one_pass() -> list[str]:
        core.read.clear()
        await watch.sweep()
        return sorted(core.read)

    ids = [r.request_id for r in ROWS]
    assert await one_pass() == ids[0:4]
    reader.down = True  # a failed pass: the next starts where this one started
    with pytest.raises(Unavailable):
        await watch.sweep()
    reader.down = False
    assert await one_pass() == ids[4:8]
    assert await one_pass() == ids[8:10]
    assert await one_pass() == ids[0:4]  # all screened: from the start again


class DownStore(InMemoryDelegationStore):
    async def current(self, now: datetime) -> list[Delegation]:
        raise Unavailable("registry down", reason=Reason.DELEGATIONS_UNAVAILABLE)


async def test_the_clock_outlives_a_store_that_is_down() -> None:
    reader = Reader()
    reader.down = True
    clock = PresenceClock(watching(reader, Core(), DownStore()), interval=0.02)
    running = asyncio.create_task(clock.run())
    try:
        for _ in range(200):
            if clock.passes >= 3:
                break
            await asyncio.sleep(0.01)
        assert clock.passes >= 3 and not running.done()  # logged, retried next pass
    finally:
        running.cancel()


@pytest.mark.parametrize(
    ("starts_in", "wait"),
    [
        (timedelta(days=3650), 60.0),  # far off: the periodic pass comes first
        (timedelta(seconds=-30), 60.0),  # begun: nothing to wake for
        (timedelta(seconds=2), 2.05),  # soon: just after it starts
    ],
)
async def test_the_clock_wakes_for_a_window_only_when_it_starts_sooner(
    starts_in: timedelta, wait: float
) -> None:
    store = InMemoryDelegationStore()
    await store.add(
        Delegation(
            delegation_id="dlg_1",
            delegator="lee",
            deputy="kim",
            roles=["TECH_LEAD"],
            starts_at=NOW + starts_in,
            ends_at=NOW + starts_in + timedelta(days=1),
            created_at=NOW,
        )
    )
    clock = PresenceClock(watching(Reader(), Core(), store), interval=60)
    assert await clock._until_next(60.0) == pytest.approx(wait)

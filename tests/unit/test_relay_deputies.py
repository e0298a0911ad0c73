"""The relay's view of who stands in: read at most every `max_age` seconds (a relay
writes many messages), never cached when unreadable, nobody named without a book."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gantral.channels.relay.deputies import Deputies
from gantral.domain.records import HumanRequest, RequestStatus
from gantral.errors import Reason, Unavailable
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.delegation_store import InMemoryDelegationStore
from gantral.governance.delegations import Delegation
from gantral.workflows.messages import InstanceView

VIEW = InstanceView.model_construct(owning_team_id="payments")
PENDING = HumanRequest.model_construct(
    status=RequestStatus.PENDING, resolved_at=None, still_needed=["TECH_LEAD"],
    required_approvers=["TECH_LEAD"], excluded_approvers=[], approvals={}, deputies={},
)  # fmt: skip


class Counting(InMemoryDelegationStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.down = False

    async def current(self, now: datetime) -> list[Delegation]:
        self.reads += 1
        if self.down:
            raise Unavailable("down", reason=Reason.DELEGATIONS_UNAVAILABLE)
        return await super().current(now)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.asyncio
async def test_read_at_most_every_max_age_and_not_cached_when_unreadable() -> None:
    store, clock = Counting(), Clock()
    book = DelegationBook(store, max_window=timedelta(days=30), clock=lambda: datetime.now(UTC))
    deputies = Deputies(book, "slack", max_age=1.0, clock=clock)
    for _ in range(3):
        assert await deputies.of(VIEW, PENDING) == []
    assert store.reads == 1
    clock.t = 1.5
    await deputies.of(VIEW, PENDING)
    assert store.reads == 2

    store.down, clock.t = True, 3.0
    assert await deputies.of(VIEW, PENDING) == []  # the message goes without names
    store.down = False
    await deputies.of(VIEW, PENDING)
    assert store.reads == 4  # the failure was not cached


@pytest.mark.asyncio
async def test_nothing_read_without_a_book_or_for_a_settled_request() -> None:
    store = Counting()
    book = DelegationBook(store, max_window=timedelta(days=30))
    settled = PENDING.model_copy(update={"status": RequestStatus.APPROVED})
    assert await Deputies(book, "jira").of(VIEW, settled) == []
    assert await Deputies(None, "jira").of(VIEW, PENDING) == []
    assert store.reads == 0

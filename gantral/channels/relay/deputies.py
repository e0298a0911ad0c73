"""Who stands in for an absent approver of a request, as the channels say it.

Read from the delegations the API keeps (the registry's database); only deputies the
workflow would take are named (`gantral.governance.presence.standing_in`). A message is
never held back for this: when delegations cannot be read, it goes without the names.

A relay posts and refreshes many messages, and who stands in changes rarely: the current
delegations are read at most every `MAX_AGE_SECONDS` (like the halts), each still judged
in effect at the moment a message is written, so one that ended is never named for
longer than that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gantral.channels.relay.failures import log
from gantral.domain.records import HumanRequest, RequestStatus
from gantral.errors import GantralError
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.delegations import Delegation
from gantral.governance.presence import standing_in
from gantral.workflows.messages import InstanceView

__all__ = ["MAX_AGE_SECONDS", "Deputies"]

# How stale a relay's view of the delegations may be.
MAX_AGE_SECONDS = 1.0


class Deputies:
    """The deputies a channel names on a request's message, through `book` (None: no
    delegations kept, nobody named)."""

    def __init__(
        self,
        book: DelegationBook | None,
        channel: str,
        *,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._book = book
        self._channel = channel
        self._max_age = max_age
        self._clock = clock
        self._current: list[Delegation] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def of(self, view: InstanceView, request: HumanRequest) -> list[Delegation]:
        """The delegations in effect through which a deputy may decide `request` now."""
        if self._book is None or request.status is not RequestStatus.PENDING:
            return []
        now = self._book.now()
        try:
            current = await self._read(self._book)
        except GantralError as exc:
            log.warning("%s: delegations unreadable, deputies not named: %s", self._channel, exc)
            return []
        in_effect = [d for d in current if d.in_effect(now)]
        return standing_in(request, view.owning_team_id, in_effect)

    async def _read(self, book: DelegationBook) -> list[Delegation]:
        if self._fresh():
            return self._current
        async with self._lock:
            if not self._fresh():  # another message may have read them meanwhile
                # Not cached when unreadable: the next message tries again.
                self._current = await book.store.current(book.now())
                self._read_at = self._clock()
        return self._current

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at <= self._max_age

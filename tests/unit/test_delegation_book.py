"""The delegation book alone (memory store, a fake clock): what a delegation may hand
over, and what `resolve` gives a deputy as time passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gantral.domain.actors import Actor, ActorKind
from gantral.errors import GantralError
from gantral.governance.delegation_book import DelegationBook
from gantral.governance.delegation_store import InMemoryDelegationStore

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
ALICE = Actor(id="alice", kind=ActorKind.HUMAN, roles=["TECH_LEAD", "approver"])
BOB = Actor(id="bob", kind=ActorKind.HUMAN, roles=["approver"])


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def _record(actor: Actor, action: str, detail: dict[str, Any]) -> None:
    RECORDED.append((actor.id, action, detail))


RECORDED: list[tuple[str, str, dict[str, Any]]] = []


def _book() -> tuple[DelegationBook, Clock]:
    clock = Clock()
    store = InMemoryDelegationStore()
    return DelegationBook(store, max_window=timedelta(days=30), clock=clock), clock


async def _reason(call: Any) -> str:
    with pytest.raises(GantralError) as info:
        await call
    return str(info.value.reason)


async def test_a_deputy_holds_the_roles_only_inside_the_window() -> None:
    book, clock = _book()
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=9)
    given = await book.put(
        ALICE, ["payments"], deputy="dana", roles=None, starts_at=start, ends_at=end,
        reason="away", record=_record,
    )  # fmt: skip
    assert given.roles == ["TECH_LEAD", "approver"] and RECORDED[-1][1] == "delegation_set"
    assert await _reason(book.resolve("dana", "alice", "payments")) == "delegation_not_in_effect"
    clock.now = start
    fact = await book.resolve("dana", "alice", "payments")
    assert (fact.delegator, fact.teams) == ("alice", ["payments"])
    assert await _reason(book.resolve("dana", "alice", "infra")) == "scope_not_granted"
    assert await _reason(book.resolve("erin", "alice", "payments")) == "no_delegation"
    clock.now = end  # the end is exclusive
    assert await _reason(book.resolve("dana", "alice", "payments")) == "delegation_not_in_effect"
    assert await book.given_by("alice") is None


async def test_what_was_delegated_to_you_is_not_yours_to_delegate() -> None:
    book, _ = _book()
    end = T0 + timedelta(hours=8)
    await book.put(
        ALICE, None, deputy="bob", roles=["TECH_LEAD"], starts_at=None, ends_at=end,
        reason=None, record=_record,
    )  # fmt: skip

    async def bob_gives(roles: list[str], deputy: str = "carol") -> Any:
        return await book.put(
            BOB, None, deputy=deputy, roles=roles, starts_at=None, ends_at=end,
            reason=None, record=_record,
        )  # fmt: skip

    assert await _reason(bob_gives(["TECH_LEAD"])) == "delegation_chain"
    assert await _reason(bob_gives(["CFO"])) == "role_not_held"
    assert await _reason(bob_gives([])) == "no_role"
    assert await _reason(bob_gives(["approver"], deputy="bob")) == "delegate_to_self"
    assert (await bob_gives(["approver"])).roles == ["approver"]
    assert await _reason(book.resolve("carol", "alice", "payments")) == "no_delegation"


async def test_the_window_is_bounded_and_never_in_the_past() -> None:
    book, _ = _book()

    async def window(start: datetime | None, end: datetime) -> Any:
        return await book.put(
            ALICE, None, deputy="dana", roles=None, starts_at=start, ends_at=end,
            reason=None, record=_record,
        )  # fmt: skip

    assert await _reason(window(None, T0 + timedelta(days=31))) == "delegation_too_long"
    assert await _reason(window(None, T0)) == "delegation_window"
    later = T0 + timedelta(hours=2)
    assert await _reason(window(later, later)) == "delegation_window"
    assert await _reason(window(T0 - timedelta(hours=1), later)) == "delegation_window"
    first = await window(T0 - timedelta(minutes=1), later)  # a small clock drift is fine
    second = await window(None, later)  # replaces the first
    assert (await book.given_by("alice")) == second
    assert first.delegation_id != second.delegation_id
    ended = await book.end(ALICE, _record)
    assert ended.ended_by == "alice" and await book.given_by("alice") is None
    assert await _reason(book.end(ALICE, _record)) == "no_delegation"

"""Break-glass without servers: the quorum that opens one (each human once, a TTL within
the maximum, never extended), what its scope covers, and the workflow's own re-check of
the fact the API passes (its end by the workflow's clock, CRITICAL only when configured)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gantral.domain.actors import Actor, ActorKind
from gantral.errors import Conflict, Forbidden, Reason
from gantral.governance.break_glass import BreakGlassUse
from gantral.governance.break_glass_book import BreakGlassBook
from gantral.governance.halts import HaltScope, HaltTarget
from gantral.settings.halts import HaltSettings
from gantral.workflows.messages import AuthorizeOutcome, AuthorizeStep
from tests.helpers.audit_payload_scenarios import AGENT, T1, _state

SAM = Actor(id="sam", kind=ActorKind.HUMAN, roles=["security"])
MARIA = Actor(id="maria", kind=ActorKind.HUMAN, roles=["platform-admin", "security"])
OPS = Actor(id="otto", kind=ActorKind.HUMAN, roles=["operator"])
BOT = Actor(id="bot", kind=ActorKind.AGENT, roles=["security"])
POLICY = HaltSettings(break_glass="2_of(security, platform-admin)", break_glass_max_ttl="30m")
TEAM = HaltScope(team="payments")


async def _record(actor: Actor, action: str, detail: dict[str, Any]) -> None:
    RECORDED.append((actor.id, action, detail))


RECORDED: list[tuple[str, str, dict[str, Any]]] = []


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_off_unless_configured() -> None:
    book = BreakGlassBook()
    with pytest.raises(Forbidden) as exc:
        _run(book.open(SAM, TEAM, "why", timedelta(minutes=5), _record))
    assert exc.value.reason == Reason.BREAK_GLASS_DISABLED
    assert _run(book.use_for(HaltTarget("payments", "pay", 1, "agent-7"))) is None


def test_a_bad_rule_stops_the_process_at_start() -> None:
    with pytest.raises(ValueError):
        HaltSettings(break_glass="two of them")


def test_quorum_each_human_once_and_no_extension() -> None:
    RECORDED.clear()
    book = BreakGlassBook(policy=POLICY)
    glass = _run(book.open(SAM, TEAM, "INC-7", timedelta(minutes=10), _record))
    assert glass.active_from is None and [a.human for a in glass.approvals] == ["sam"]
    # The opener again: counted once.
    with pytest.raises(Conflict) as exc:
        _run(book.approve(SAM, glass, "again", _record))
    assert exc.value.reason == Reason.BREAK_GLASS_ALREADY_APPROVED
    # Not a member of the quorum, or not a human: refused before anything is recorded.
    for outsider in (OPS, BOT):
        with pytest.raises(Forbidden) as exc:
            _run(book.approve(outsider, glass, "me too", _record))
        assert exc.value.reason == Reason.BREAK_GLASS_ROLE_REQUIRED
    active = _run(book.approve(MARIA, glass, "confirmed", _record))
    assert active.in_effect(datetime.now(UTC))
    assert active.expires_at - active.active_from == timedelta(minutes=10)
    # In effect: no more approvals (no extension).
    third = Actor(id="pat", kind=ActorKind.HUMAN, roles=["security"])
    with pytest.raises(Conflict) as exc:
        _run(book.approve(third, active, "longer", _record))
    assert exc.value.reason == Reason.BREAK_GLASS_NOT_PENDING
    actions = [a for _, a, _ in RECORDED]
    assert actions == [
        "break_glass_opened", "break_glass_approved", "break_glass_approved", "break_glass_active"
    ]  # fmt: skip
    assert RECORDED[-1][2]["approvals"] == {"sam": "security", "maria": "platform-admin"}
    inside = _run(book.use_for(HaltTarget("payments", "pay", 1, "agent-7")))
    assert inside is not None and inside.break_glass_id == active.break_glass_id
    assert inside.approvers == {"sam": "security", "maria": "platform-admin"}
    assert _run(book.use_for(HaltTarget("billing", "pay", 1, "agent-7"))) is None


def test_ttl_above_the_maximum_is_refused_unrecorded() -> None:
    RECORDED.clear()
    book = BreakGlassBook(policy=POLICY)
    with pytest.raises(Conflict) as exc:
        _run(book.open(SAM, TEAM, "INC-7", timedelta(minutes=31), _record))
    assert exc.value.reason == Reason.BREAK_GLASS_TTL_TOO_LONG
    assert RECORDED == []


def _authorize(amount: int, glass: BreakGlassUse) -> Any:
    s, ids = _state()
    req = AuthorizeStep(
        step_id="transfer", action="pay", arguments={"amount": amount}, actor=AGENT,
        break_glass=glass,
    )  # fmt: skip
    s.check_authorize(req)
    return s, s.authorize(req, T1, ids)


def _use(**more: Any) -> BreakGlassUse:
    fields: dict[str, Any] = {"expires_at": T1 + timedelta(minutes=5)} | more
    return BreakGlassUse(break_glass_id="bg_1", approvers={"sam": "security"}, **fields)


def test_the_workflow_allows_and_marks_the_step() -> None:
    s, out = _authorize(40, _use())
    assert out.result.outcome is AuthorizeOutcome.ALLOW
    assert out.result.break_glass_id == "bg_1" and out.grant is not None
    marked = [e for e in s.log.unsent() if e.type == "ALLOWED_BY_BREAK_GLASS"]
    assert len(marked) == 1 and marked[0].payload["grant_id"] == out.grant.grant_id


def test_the_workflow_rechecks_the_end_by_its_own_clock() -> None:
    s, out = _authorize(40, _use(expires_at=T1))  # ended the instant the workflow sees it
    assert out.result.outcome is AuthorizeOutcome.PENDING
    assert not [e for e in s.log.unsent() if e.type == "ALLOWED_BY_BREAK_GLASS"]


def test_critical_stays_with_a_human_unless_configured() -> None:
    _, out = _authorize(50_000, _use())
    assert out.result.outcome is AuthorizeOutcome.PENDING
    _, out = _authorize(50_000, _use(critical=True))
    assert out.result.outcome is AuthorizeOutcome.ALLOW

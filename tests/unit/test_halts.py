"""Halts: which calls a scope covers, the refusal it answers with, and how long a process
may go on reading a halt list that changed (the cache)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from gantral.domain.actors import Actor, ActorKind
from gantral.errors import Conflict, Forbidden, Unavailable
from gantral.governance.halt_book import OWNER_RECHECK_SECONDS, HaltBook
from gantral.governance.halt_store import InMemoryHaltStore
from gantral.governance.halts import Halt, HaltScope, HaltTarget, covering, halted
from gantral.settings.halts import HaltSettings

T0 = datetime(2026, 12, 6, tzinfo=UTC)
TARGET = HaltTarget(team="payments", workflow="deploy", version=2, agent="bot-1")
PAT = Actor(id="pat", kind=ActorKind.HUMAN, roles=["platform-admin"])


def halt(scope: dict[str, Any], n: int = 0, lifted: bool = False) -> Halt:
    return Halt(
        halt_id=f"halt_{n}",
        scope=HaltScope.model_validate(scope),
        reason=f"reason {n}",
        raised_by="pat",
        raised_at=T0 + timedelta(seconds=n),
        lifted_by="pat" if lifted else None,
        lifted_at=T0 + timedelta(hours=1) if lifted else None,
    )


@pytest.mark.parametrize(
    ("scope", "covered"),
    [
        ({"team": "payments"}, True),
        ({"team": "risk"}, False),
        ({"agent": "bot-1"}, True),
        ({"agent": "bot-2"}, False),
        ({"workflow": "deploy"}, True),
        ({"workflow": "deploy", "version": 2}, True),
        ({"workflow": "deploy", "version": 1}, False),
        ({"workflow": "refund"}, False),
        ({"deployment": True}, True),
    ],
)
def test_a_scope_covers_exactly_what_it_names(scope: dict[str, Any], covered: bool) -> None:
    assert HaltScope.model_validate(scope).covers(TARGET) is covered


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"team": "payments", "agent": "bot-1"},
        {"version": 2},
        {"team": "payments", "version": 2},
        {"deployment": False},
        {"team": ""},
        {"team": "pay ments"},
        {"workflow": "deploy", "version": 0},
        {"everything": True},
    ],
)
def test_a_scope_names_exactly_one_thing(scope: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HaltScope.model_validate(scope)


def test_the_oldest_active_covering_halt_answers() -> None:
    halts = [
        halt({"team": "risk"}, 0),
        halt({"team": "payments"}, 1, lifted=True),
        halt({"agent": "bot-1"}, 3),
        halt({"workflow": "deploy"}, 2),
    ]
    found = covering(halts, TARGET)
    assert found is not None and found.halt_id == "halt_2"
    assert covering(halts[:2], TARGET) is None


def test_the_refusal_is_a_conflict_naming_the_halt_and_its_reason() -> None:
    refused = halted(halt({"team": "payments"}, 7), "authorizing step pay")
    assert isinstance(refused, Conflict)
    body = refused.to_dict()
    assert (body["error"], body["reason"]) == ("conflict", "halted")
    assert body["details"] == {
        "halt_id": "halt_7",
        "halt_reason": "reason 7",
        "scope": {"team": "payments"},
    }
    assert "team payments is halted" in body["message"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _recorded(actor: Actor, action: str, detail: dict[str, Any]) -> None:
    RECORDED.append((actor.id, action, detail))


RECORDED: list[tuple[str, str, dict[str, Any]]] = []


async def test_a_halt_raised_elsewhere_holds_here_within_the_cache_age() -> None:
    store = InMemoryHaltStore()
    clock = Clock()
    here = HaltBook(store, max_age=0.5, clock=clock)
    there = HaltBook(store, max_age=0.5, clock=clock)
    assert await here.covering(TARGET) is None
    raised = await there.raise_halt(PAT, HaltScope(team="payments"), "loop", _recorded)
    assert RECORDED[-1] == (
        "pat",
        "halt_raised",
        {"halt_id": raised.halt_id, "scope": {"team": "payments"}, "reason": "loop"},
    )
    # The raising process sees it at once; another within its cache age.
    assert await there.covering(TARGET) == raised
    clock.now = 0.4
    assert await here.covering(TARGET) is None
    clock.now = 0.6
    assert await here.covering(TARGET) == raised

    lifted = await there.lift(PAT, raised, "fixed", _recorded)
    assert RECORDED[-1][1] == "halt_lifted" and lifted.lifted_by == "pat"
    clock.now = 1.2
    assert await here.covering(TARGET) is None
    with pytest.raises(Conflict) as again:
        await there.lift(PAT, lifted, "twice", _recorded)
    assert again.value.reason == "already_lifted"


async def test_a_halt_for_another_to_lift_refuses_its_raiser() -> None:
    book = HaltBook(InMemoryHaltStore())
    scope = HaltScope(agent="bot-1")
    raised = await book.raise_halt(PAT, scope, "x", _recorded, lift_by_another=True)
    assert RECORDED[-1][2]["lift_by_another"] is True
    with pytest.raises(Forbidden) as refused:
        await book.lift(PAT, raised, "mine", _recorded)
    assert refused.value.reason == "lifter_is_raiser"
    assert (await book.covering(TARGET)) == raised  # still holds
    sam = Actor(id="sam", kind=ActorKind.HUMAN)
    assert (await book.lift(sam, raised, "checked", _recorded)).lifted_by == "sam"


async def test_an_unrecorded_halt_never_takes_effect() -> None:
    async def audit_down(actor: Actor, action: str, detail: dict[str, Any]) -> None:
        raise Unavailable("down", reason="audit_unavailable")

    book = HaltBook(InMemoryHaltStore())
    with pytest.raises(Unavailable):
        await book.raise_halt(PAT, HaltScope(deployment=True), "x", audit_down)
    assert await book.store.read() == []


async def test_halts_that_cannot_be_read_refuse_instead_of_allowing() -> None:
    class Broken(InMemoryHaltStore):
        async def read(self, *, active_only: bool = False) -> list[Halt]:
            raise OSError("connection refused")

    with pytest.raises(Unavailable) as refused:
        await HaltBook(Broken()).covering(TARGET)
    assert refused.value.reason == "halts_unavailable"


def _rule(lift: str) -> Any:
    return HaltBook(InMemoryHaltStore(), policy=HaltSettings(lift=lift)).lift_rule


def test_the_lift_quorum_is_written_short_or_as_json_and_refused_at_start_when_wrong() -> None:
    short = _rule("2_of(security, platform-admin)")
    long = _rule('{"n_of": {"n": 2, "of": [{"role": "security"}, {"role": "platform-admin"}]}}')
    assert short == long and short is not None
    assert _rule("any_of(a, b)") == _rule('{"any_of": [{"role": "a"}, {"role": "b"}]}')
    assert _rule("") is None
    for unparsed in ("2_of()", "some(a)", "{broken", "[1]"):
        with pytest.raises(ValidationError):
            HaltSettings(lift=unparsed)
    for no_rule in ("3_of(a, b)", '{"n_of": 2}', '{"role": ""}'):
        with pytest.raises(ValidationError):  # the API does not start with it
            _rule(no_rule)


async def test_a_quorum_lift_counts_each_human_once_apart_from_the_raiser() -> None:
    policy = HaltSettings(lift="2_of(security, platform-admin)", lift_separation=True)
    book = HaltBook(InMemoryHaltStore(), policy=policy)
    acts: list[tuple[str, str]] = []

    async def record(actor: Actor, action: str, detail: dict[str, Any]) -> None:
        acts.append((actor.id, action))

    raised = await book.raise_halt(PAT, HaltScope(team="payments"), "loop", record)
    with pytest.raises(Forbidden) as refused:  # separation: never the raiser
        await book.lift(PAT, raised, "mine", record)
    assert refused.value.reason == "lifter_is_raiser"
    sid = Actor(id="sid", kind=ActorKind.HUMAN, roles=["security"])
    sue = Actor(id="sue", kind=ActorKind.HUMAN, roles=["security"])
    bo = Actor(id="bo", kind=ActorKind.HUMAN, roles=["security", "platform-admin"])
    op = Actor(id="op", kind=ActorKind.HUMAN, roles=["operator"])
    bot = Actor(id="bot", kind=ActorKind.AGENT, roles=["security"])
    for outsider in (op, bot):
        with pytest.raises(Forbidden) as refused:
            book.check_lifter(outsider)
        assert refused.value.reason == "lift_role_required"

    halt = await book.lift(sid, raised, "checked", record)
    assert halt.active and [(a.human, a.role) for a in halt.lift_approvals] == [("sid", "security")]
    with pytest.raises(Conflict) as twice:  # the same human twice never makes a quorum
        await book.lift(sid, halt, "again", record)
    assert twice.value.reason == "lift_already_approved"
    halt = await book.lift(sue, halt, "me too", record)  # a second security: not the quorum
    assert halt.active
    assert (await book.covering(TARGET)) is not None
    # Holding both roles, bo counts as the one still needed, and the quorum lifts it.
    lifted = await book.lift(bo, halt, "fixed", record)
    assert not lifted.active and lifted.lifted_by == "bo"
    assert lifted.lift_approvals[-1].role == "platform-admin"
    assert (await book.covering(TARGET)) is None
    assert acts == [
        ("pat", "halt_raised"),
        ("sid", "halt_lift_approved"),
        ("sue", "halt_lift_approved"),
        ("bo", "halt_lift_approved"),
        ("bo", "halt_lifted"),
    ]


async def test_only_the_deployments_roles_raise_when_it_names_them() -> None:
    book = HaltBook(InMemoryHaltStore(), policy=HaltSettings(raise_roles=["security"]))
    with pytest.raises(Forbidden) as refused:
        await book.raise_halt(PAT, HaltScope(team="payments"), "x", _recorded)
    assert refused.value.reason == "raise_role_required"
    sid = Actor(id="sid", kind=ActorKind.HUMAN, roles=["security"])
    assert (await book.raise_halt(sid, HaltScope(team="payments"), "x", _recorded)).active


async def test_staged_recovery_exempts_a_narrower_part_while_the_rest_holds() -> None:
    book = HaltBook(InMemoryHaltStore())
    raised = await book.raise_halt(PAT, HaltScope(team="payments"), "loop", _recorded)
    fixed = HaltTarget("payments", "pay", 3, "bot-fixed")
    still = HaltTarget("payments", "pay", 3, "bot-other")
    # Not narrower: the same scope, the deployment (those are lifts).
    for wide in (HaltScope(team="payments"), HaltScope(deployment=True)):
        with pytest.raises(Conflict) as refused:
            await book.exempt(PAT, raised, wide, "all", _recorded)
        assert refused.value.reason == "exemption_not_narrower"
    exempted = await book.exempt(PAT, raised, HaltScope(agent="bot-fixed"), "fixed", _recorded)
    assert RECORDED[-1][1] == "halt_exempted"
    assert RECORDED[-1][2]["exempted"] == {"agent": "bot-fixed"}
    assert await book.covering(fixed) is None
    assert await book.covering(still) == exempted  # the rest stays halted
    with pytest.raises(Conflict) as twice:
        await book.exempt(PAT, exempted, HaltScope(agent="bot-fixed"), "again", _recorded)
    assert twice.value.reason == "already_exempted"


async def test_a_version_exemption_never_frees_an_unknown_version() -> None:
    book = HaltBook(InMemoryHaltStore())
    raised = await book.raise_halt(PAT, HaltScope(workflow="pay"), "bad", _recorded)
    with pytest.raises(Conflict):  # the whole workflow: a lift, not a part
        await book.exempt(PAT, raised, HaltScope(workflow="pay"), "x", _recorded)
    await book.exempt(PAT, raised, HaltScope(workflow="pay", version=4), "v4 ok", _recorded)
    assert await book.covering(HaltTarget("t", "pay", 4, "a")) is None
    assert await book.covering(HaltTarget("t", "pay", 3, "a")) is not None
    assert await book.covering(HaltTarget("t", "pay", None, "a")) is not None


async def test_an_exemption_needs_the_lift_quorum_for_its_part() -> None:
    policy = HaltSettings(lift="2_of(security, platform-admin)", lift_separation=True)
    book = HaltBook(InMemoryHaltStore(), policy=policy)
    acts: list[tuple[str, str, dict[str, Any]]] = []

    async def record(actor: Actor, action: str, detail: dict[str, Any]) -> None:
        acts.append((actor.id, action, detail))

    raised = await book.raise_halt(PAT, HaltScope(team="payments"), "loop", record)
    part = HaltScope(agent="bot-1")
    still = HaltTarget("payments", "deploy", 2, "bot-2")
    with pytest.raises(Forbidden) as own:  # separation: never the raiser
        await book.exempt(PAT, raised, part, "mine", record)
    assert own.value.reason == "lifter_is_raiser"
    op = Actor(id="op", kind=ActorKind.HUMAN, roles=["operator"])
    with pytest.raises(Forbidden) as outsider:
        await book.exempt(op, raised, part, "x", record)
    assert outsider.value.reason == "lift_role_required"
    sid = Actor(id="sid", kind=ActorKind.HUMAN, roles=["security"])
    bo = Actor(id="bo", kind=ActorKind.HUMAN, roles=["security", "platform-admin"])
    with pytest.raises(Conflict) as wide:
        await book.exempt(sid, raised, HaltScope(team="payments"), "all", record)
    assert wide.value.reason == "exemption_not_narrower"

    pending = await book.exempt(sid, raised, part, "fixed", record)
    assert pending.exemptions == []
    assert [(a.scope, a.human, a.role) for a in pending.exemption_approvals] == [
        (part, "sid", "security")
    ]
    assert (await book.covering(TARGET)) is not None  # one approval: still halted
    with pytest.raises(Conflict) as twice:
        await book.exempt(sid, pending, part, "again", record)
    assert twice.value.reason == "exemption_already_approved"
    # Another part's approvals count apart: sid may approve it too.
    other = await book.exempt(sid, pending, HaltScope(agent="bot-2"), "also", record)
    assert other.exemptions == [] and len(other.exemption_approvals) == 2

    done = await book.exempt(bo, other, part, "checked", record)  # counts as platform-admin
    assert [e.scope for e in done.exemptions] == [part] and done.active
    assert done.exemptions[0].exempted_by == "bo"
    assert (await book.covering(TARGET)) is None
    assert (await book.covering(still)) == done  # the rest stays halted
    with pytest.raises(Conflict) as again:
        await book.exempt(sid, done, part, "again", record)
    assert again.value.reason == "already_exempted"
    assert [(who, action) for who, action, _ in acts] == [
        ("pat", "halt_raised"),
        ("sid", "halt_exemption_approved"),
        ("sid", "halt_exemption_approved"),
        ("bo", "halt_exemption_approved"),
        ("bo", "halt_exempted"),
    ]
    approved = acts[3][2]
    assert approved["exempted"] == {"agent": "bot-1"} and approved["satisfied"] is True
    assert approved["approvals"] == {"sid": "security", "bo": "platform-admin"}


async def test_no_exemption_by_a_separated_raiser() -> None:
    book = HaltBook(InMemoryHaltStore())
    held = await book.raise_halt(PAT, HaltScope(team="p"), "x", _recorded, lift_by_another=True)
    with pytest.raises(Forbidden) as own:
        await book.exempt(PAT, held, HaltScope(agent="a"), "x", _recorded)
    assert own.value.reason == "lifter_is_raiser"


async def test_an_owner_stored_by_another_replica_is_corrected_by_the_agents_next_call() -> None:
    # Two replicas, one registry: the agent presents olive's token on one, otto's on the
    # other, then olive's again on the first. The owner its tokens named last counts.
    store, now = InMemoryHaltStore(), [0.0]
    policy = HaltSettings(owners_may_halt=True)
    first, second = (HaltBook(store, policy=policy, clock=lambda: now[0]) for _ in range(2))

    def bot(owner: str) -> Actor:
        return Actor(id="bot-1", kind=ActorKind.AGENT, owner=owner)

    olive = Actor(id="olive", kind=ActorKind.HUMAN)
    await first.note_agent(bot("olive"))
    await second.note_agent(bot("otto"))
    now[0] += OWNER_RECHECK_SECONDS
    await first.note_agent(bot("olive"))
    assert await store.owner_of("bot-1") == "olive"
    assert await first.owns(olive, HaltScope(agent="bot-1"))


async def test_a_human_calling_through_a_gateway_is_no_agents_owner() -> None:
    # Through a gateway, a human's call is an agent's named after them and owned by them
    # (gantral.identity.service.act_for): nothing to keep, and a real agent's owner kept.
    store = InMemoryHaltStore()
    book = HaltBook(store, policy=HaltSettings(owners_may_halt=True))
    await book.note_agent(Actor(id="bot-1", kind=ActorKind.AGENT, owner="olive"))
    await book.note_agent(Actor(id="bot-1", kind=ActorKind.AGENT, owner="bot-1"))
    await book.note_agent(Actor(id="alice", kind=ActorKind.AGENT, owner="alice"))
    assert await store.owner_of("bot-1") == "olive"
    assert await store.owner_of("alice") is None
    alice = Actor(id="alice", kind=ActorKind.HUMAN)
    assert not await book.owns(alice, HaltScope(agent="alice"))

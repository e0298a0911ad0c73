"""The instance's governance logic alone: no Temporal, no sink, no real timers.

`InstanceState` is driven directly with a fake clock and id source; what it recorded for
the audit log is read from its `log`. The property tests of quorum, separation of duties
and grants run here, where thousands of sequences take seconds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import AuditEventType
from gantral.domain.digest import args_digest
from gantral.domain.records import DecisionType, RequestStatus
from gantral.domain.states import State
from gantral.errors import GantralError
from gantral.governance.halts import HaltScope
from gantral.workflows.messages import (
    AgentEvent,
    AgentEventKind,
    AgentEventResult,
    AuthorizeOutcome,
    Decide,
)
from gantral.workflows.state import InstanceState
from tests.helpers.instance_state import (  # noqa: F401
    AGENT,
    LEAD,
    LEAD2,
    SEC,
    T0,
    TEMPLATE,
    _ask,
    _ids,
    _refused,
    _state,
)

BOSS = Actor(id="maria", kind=ActorKind.HUMAN, roles=["SRE_MANAGER"])
OWNER = Actor(id="olivia", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])


def _decide(s: InstanceState, ids: Any, who: Actor, kind: str = "APPROVE", **more: Any) -> Any:
    pending = s.pending
    assert pending is not None
    d = Decide(
        request_id=pending.request_id,
        decision_type=DecisionType(kind),
        actor=who,
        idempotency_key=f"k-{who.id}",
        **more,
    )
    s.check_decide(d)
    return s.decide(d, {}, T0, ids)


def _start_step(s: InstanceState, grant: Any, digest: str | None = None) -> Any:
    event = AgentEvent(
        kind=AgentEventKind.STEP_STARTED,
        step_id=grant.step_id,
        grant_id=grant.grant_id,
        args_digest=digest or grant.args_digest,
        actor=AGENT,
    )
    s.check_report(event)
    return s.report(event, T0 + timedelta(seconds=1))


def test_approve_resumes_with_a_grant_usable_only_once_audited() -> None:
    s, ids = _state()
    asked = _ask(s, ids, 50)
    assert asked.result.outcome is AuthorizeOutcome.PENDING
    assert s.state is State.WAITING_FOR_HUMAN
    decided = _decide(s, ids, LEAD)
    assert decided.result.state is State.RUNNING
    assert decided.result.request.grant is None  # not shown before the sink stored it
    grant = decided.grant
    assert grant is not None and grant.holder == "agent-7"
    assert _start_step(s, grant)[0] == "grant_not_active"
    s.settle(decided.request, grant, T0)
    assert decided.request.grant == grant and decided.request.resolved_at == T0
    assert isinstance(_start_step(s, grant), AgentEventResult)
    assert _start_step(s, grant)[0] == "grant_reused"
    types = [e.type for e in s.log.unsent()]
    assert types.count(AuditEventType.VIOLATION) == 2  # the premature and the reused start
    assert [t.to_state for t in s.data.transitions][-3:] == [
        State.APPROVED,
        State.RESUMED,
        State.RUNNING,
    ]


def test_quorum_needs_both_roles_and_the_agents_owner_never_counts() -> None:
    s, ids = _state()
    _ask(s, ids, 20_000)
    assert _refused(lambda: _decide(s, ids, OWNER)) == "separation_of_duties"
    first = _decide(s, ids, LEAD)
    assert first.result.state is State.WAITING_FOR_HUMAN
    assert first.request.still_needed == ["SECURITY_REVIEWER"]
    assert _refused(lambda: _decide(s, ids, LEAD)) == "already_approved"
    assert _decide(s, ids, SEC).result.state is State.RUNNING


def test_an_override_needing_more_authority_becomes_a_new_request() -> None:
    s, ids = _state()
    _ask(s, ids, 50)
    first = s.pending
    decided = _decide(
        s, ids, BOSS, "OVERRIDE", justification="bigger", context_delta={"amount": 50_000}
    )
    assert decided.grant is None and decided.request.status is RequestStatus.SUPERSEDED
    follow_up = s.pending
    assert follow_up is not None and follow_up is not first
    assert follow_up.arguments == {"amount": 50_000}
    assert set(follow_up.excluded_approvers) >= {"maria", "olivia", "agent-7"}


def test_a_missed_deadline_expires_and_ends_the_instance() -> None:
    s, ids = _state()
    _ask(s, ids, 20_000)
    request = s.pending
    assert request is not None
    s.enter_tier(request, 0, T0)
    assert request.deadline == T0 + timedelta(hours=1)
    assert s.time_out(request, request.deadline, ids) is None
    assert request.status is RequestStatus.EXPIRED and s.state is State.TERMINATED


def test_escalate_now_needs_an_open_request_at_that_tier_and_a_next_one() -> None:
    s, ids = _state(
        TEMPLATE.replace("timeouts: {primary: 1h}", "timeouts: {primary: 1h, escalation: 1h}")
    )
    _ask(s, ids, 20_000)
    request = s.pending
    assert request is not None
    s.enter_tier(request, 0, T0)
    assert s.may_escalate_now(request.request_id, 0)
    assert not s.may_escalate_now(request.request_id, 1)
    assert not s.may_escalate_now("req_other", 0)
    s.enter_tier(request, 1, T0, "no present human can decide TECH_LEAD")
    escalated = [e for e in s.log.unsent() if e.type is AuditEventType.ESCALATED]
    assert escalated[0].payload["cause"] == "no present human can decide TECH_LEAD"
    assert not s.may_escalate_now(request.request_id, 1)  # no tier after the last
    # By a timeout, ESCALATED has no cause at all (its bytes as before).
    s2, ids2 = _state(
        TEMPLATE.replace("timeouts: {primary: 1h}", "timeouts: {primary: 1h, escalation: 1h}")
    )
    _ask(s2, ids2, 20_000)
    assert s2.pending is not None
    s2.enter_tier(s2.pending, 1, T0)
    by_timeout = [e for e in s2.log.unsent() if e.type is AuditEventType.ESCALATED]
    assert "cause" not in by_timeout[0].payload
    # Once decided, nothing escalates.
    s3, ids3 = _state(
        TEMPLATE.replace("timeouts: {primary: 1h}", "timeouts: {primary: 1h, escalation: 1h}")
    )
    _ask(s3, ids3, 20_000)
    decided = s3.pending
    assert decided is not None
    s3.enter_tier(decided, 0, T0)
    _decide(s3, ids3, LEAD)
    assert s3.may_escalate_now(decided.request_id, 0)  # still needs SECURITY_REVIEWER
    _decide(s3, ids3, SEC)
    assert not s3.may_escalate_now(decided.request_id, 0)


def test_separation_of_duties_opt_out_is_honoured_and_recorded() -> None:
    s, ids = _state(
        TEMPLATE.replace("grant_ttl: 1h", "grant_ttl: 1h\n      separation_of_duties: false")
    )
    _ask(s, ids, 50)
    decided = _decide(s, ids, OWNER)
    assert decided.result.state is State.RUNNING
    recorded = [e for e in s.log.unsent() if e.type is AuditEventType.DECISION_RECORDED]
    assert recorded[0].payload["separation_of_duties_waived"] is True


# -- the property: no step starts without a human's grant for exactly those arguments ----

AMOUNTS = [10, 20, 20_000]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("ask"), st.sampled_from(AMOUNTS)),
        # Weighted towards the path that issues grants: approvals by a tech lead.
        st.tuples(st.just("decide"), st.sampled_from(["alice", "alice", "bob", "sam", "maria",
                                                       "olivia"]),
                  st.sampled_from(["APPROVE", "APPROVE", "APPROVE", "REJECT", "OVERRIDE"])),
        st.tuples(st.just("settle"), st.just(0)),
        st.tuples(st.just("start"), st.integers(0, 3), st.sampled_from([*AMOUNTS, None, None])),
    ),
    max_size=14,
)  # fmt: skip
HUMANS = {a.id: a for a in (LEAD, LEAD2, SEC, BOSS, OWNER)}


@settings(max_examples=600, deadline=None, derandomize=True)
@given(ops)
def test_no_step_starts_without_a_settled_human_grant_for_exactly_its_arguments(
    sequence: list[tuple[Any, ...]],
) -> None:
    s, ids = _state()
    unsettled: list[Any] = []
    granted: dict[str, Any] = {}  # settled grants, by id
    used: set[str] = set()
    for kind, *args in sequence:
        try:
            if kind == "ask":
                _ask(s, ids, args[0])
            elif kind == "decide" and s.pending is not None:
                more = {}
                if args[1] != "APPROVE":
                    more["justification"] = "because"
                if args[1] == "OVERRIDE":
                    more["context_delta"] = {"amount": 15}
                decided = _decide(s, ids, HUMANS[args[0]], args[1], **more)
                if decided.grant is not None:
                    unsettled.append((decided.request, decided.grant))
            elif kind == "settle":
                for request, grant in unsettled:
                    s.settle(request, grant, T0)
                    granted[grant.grant_id] = grant
                unsettled.clear()
            elif kind == "start":
                known = sorted(granted) + [g.grant_id for _, g in unsettled]
                # Index 3 is a forged id; otherwise one of the grants issued so far.
                grant_id = known[args[0] % len(known)] if known and args[0] < 3 else "grant_x"
                amount = args[1]
                # No amount: present the grant's own digest (the honest agent's case).
                own = granted.get(grant_id) or next(
                    (g for _, g in unsettled if g.grant_id == grant_id), None
                )
                digest = (
                    args_digest("pay", {"amount": amount})
                    if amount is not None
                    else (own.args_digest if own is not None else None)
                )
                event = AgentEvent(
                    kind=AgentEventKind.STEP_STARTED, step_id="transfer",
                    grant_id=grant_id, args_digest=digest, actor=AGENT,
                )  # fmt: skip
                s.check_report(event)
                if isinstance(s.report(event, T0), AgentEventResult):
                    grant = granted.get(grant_id)
                    assert grant is not None, "started without a settled grant"
                    assert grant.args_digest == digest, "started with other arguments"
                    assert grant_id not in used, "a grant used twice"
                    used.add(grant_id)
        except GantralError:
            continue  # refused by a check: nothing changed
    # Every decision the state accepted is recorded exactly once.
    recorded = [e for e in s.log.unsent() if e.type is AuditEventType.DECISION_RECORDED]
    assert [e.payload["decision_id"] for e in recorded] == [d.decision_id for d in s.data.decisions]
    # Separation of duties: the agent's owner never decided anything.
    assert "olivia" not in {d.human_actor_id for d in s.data.decisions}
    # Quorum: a CRITICAL request is approved only with both roles, by distinct humans.
    for request in s.data.requests.values():
        if request.status is RequestStatus.APPROVED and request.materiality == "CRITICAL":
            assert set(request.approvals.values()) >= {"TECH_LEAD", "SECURITY_REVIEWER"}
            assert len(request.approvals) >= 2


def test_a_halt_freezes_the_pending_deadline_and_its_lift_resumes_it_with_the_time_left() -> None:
    s, ids = _state()
    _ask(s, ids, 20_000)
    request = s.pending
    assert request is not None
    s.enter_tier(request, 0, T0)
    # Halts that do not cover the instance hold nothing; a lift seen before its raise wins.
    s.note_halt("h-other", HaltScope(team="other"), lifted=False)
    s.note_halt("h-late", HaltScope(team="payments"), lifted=True)
    s.note_halt("h-late", HaltScope(team="payments"), lifted=False)
    assert s.sync_freeze(T0) is None and not s.is_frozen(request)
    assert s.data.halts == {} and s.data.lifted_halts == ["h-late"]  # nothing else kept

    at = T0 + timedelta(minutes=20)
    s.note_halt("h-team", HaltScope(team="payments"), lifted=False)
    s.note_halt("h-agent", HaltScope(agent=AGENT.id), lifted=False)
    assert s.sync_freeze(at) is None and s.is_frozen(request)
    # One lift of two: still frozen.
    s.note_halt("h-team", HaltScope(team="payments"), lifted=True)
    assert s.sync_freeze(at + timedelta(hours=3)) is None and s.is_frozen(request)
    s.note_halt("h-agent", HaltScope(agent=AGENT.id), lifted=True)
    resumed_at = at + timedelta(hours=5)
    assert s.sync_freeze(resumed_at) == timedelta(hours=5)
    assert not s.is_frozen(request)
    assert request.deadline == resumed_at + timedelta(minutes=40)  # the 40 min it had left
    frozen, resumed = [
        e.payload
        for e in s.log.unsent()
        if e.type in (AuditEventType.DEADLINE_FROZEN, AuditEventType.DEADLINE_RESUMED)
    ]
    assert frozen["halt_ids"] == ["h-agent", "h-team"]
    assert frozen["remaining_seconds"] == 2400
    assert resumed["remaining_seconds"] == 2400 and resumed["frozen_seconds"] == 5 * 3600

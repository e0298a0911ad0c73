"""A deputy's decision, checked by the instance's own logic: the delegated roles only,
inside the window, separation of duties for deputy and delegator, each human once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import AuditEventType
from gantral.domain.delegation import Delegated
from gantral.domain.records import DecisionType, RequestStatus
from gantral.workflows.messages import Decide
from tests.helpers.instance_state import AGENT, LEAD, LEAD2, SEC, T0, _ask, _refused, _state

# A deputy holds no policy role of their own.
DEPUTY = Actor(id="dana", kind=ActorKind.HUMAN, roles=["approver"])


def _for(delegator: str, roles: list[str], **window: Any) -> Delegated:
    return Delegated(
        delegation_id="dlg_1",
        delegator=delegator,
        roles=roles,
        teams=window.pop("teams", ["payments"]),
        starts_at=window.pop("starts_at", T0 - timedelta(hours=1)),
        ends_at=window.pop("ends_at", T0 + timedelta(hours=1)),
    )


def _decision(s: Any, who: Actor, kind: str = "APPROVE", **more: Any) -> Decide:
    return Decide(
        request_id=s.pending.request_id,
        decision_type=DecisionType(kind),
        actor=who,
        idempotency_key=f"k-{who.id}",
        justification="away" if kind == "REJECT" else None,
        **more,
    )


def test_a_deputy_approves_with_the_delegated_role_and_both_names_are_recorded() -> None:
    s, ids = _state()
    _ask(s, ids, 50)
    d = _decision(s, DEPUTY, on_behalf_of=_for("alice", ["TECH_LEAD"]))
    s.check_decide(d, T0)
    decided = s.decide(d, {}, T0, ids)
    request = decided.result.request
    assert request.status is RequestStatus.APPROVED
    assert request.decided_by == "dana" and request.decided_on_behalf_of == "alice"
    assert request.approvals == {"alice": "TECH_LEAD"} and request.deputies == {"alice": "dana"}
    assert decided.result.decision.on_behalf_of == "alice"
    recorded = [e for e in s.log.unsent() if e.type is AuditEventType.DECISION_RECORDED]
    assert recorded[-1].payload["human_actor_id"] == "dana"
    assert recorded[-1].payload["on_behalf_of"] == "alice"
    assert recorded[-1].payload["delegation_id"] == "dlg_1"


def test_without_a_delegation_the_deputy_has_no_role() -> None:
    s, ids = _state()
    _ask(s, ids, 50)
    assert _refused(lambda: s.check_decide(_decision(s, DEPUTY), T0)) == "role_not_allowed"


def test_outside_the_window_the_deputy_is_refused() -> None:
    s, ids = _state()
    _ask(s, ids, 50)
    late = _for("alice", ["TECH_LEAD"], ends_at=T0)  # ended exactly now
    early = _for("alice", ["TECH_LEAD"], starts_at=T0 + timedelta(seconds=1))
    for fact in (late, early):
        d = _decision(s, DEPUTY, on_behalf_of=fact)
        assert _refused(lambda d=d: s.check_decide(d, T0)) == "delegation_not_in_effect"
    d = _decision(s, DEPUTY, on_behalf_of=_for("alice", ["TECH_LEAD"]))
    assert _refused(lambda: s.check_decide(d)) == "delegation_not_in_effect"  # no clock


def test_a_team_the_delegator_could_not_decide_for_is_refused() -> None:
    s, ids = _state()
    _ask(s, ids, 50)
    d = _decision(s, DEPUTY, on_behalf_of=_for("alice", ["TECH_LEAD"], teams=["infra"]))
    assert _refused(lambda: s.check_decide(d, T0)) == "scope_not_granted"


def test_separation_of_duties_holds_for_deputy_and_delegator() -> None:
    s, ids = _state()
    _ask(s, ids, 50)
    # The agent's owner (olivia) may not decide through a deputy...
    d = _decision(s, DEPUTY, on_behalf_of=_for("olivia", ["TECH_LEAD"]))
    assert _refused(lambda: s.check_decide(d, T0)) == "separation_of_duties"
    # ...nor be a deputy for someone else.
    owner = Actor(id="olivia", kind=ActorKind.HUMAN, roles=[])
    d = _decision(s, owner, on_behalf_of=_for("alice", ["TECH_LEAD"]))
    assert _refused(lambda: s.check_decide(d, T0)) == "separation_of_duties"
    assert AGENT.owner == "olivia"


def test_neither_deputy_nor_delegator_counts_twice_in_one_quorum() -> None:
    s, ids = _state()
    _ask(s, ids, 20_000)  # CRITICAL: TECH_LEAD and SECURITY_REVIEWER, two humans
    first = _decision(s, LEAD)
    s.check_decide(first, T0)
    s.decide(first, {}, T0, ids)
    # alice approved herself: her deputy may not add her authority again
    d = _decision(s, DEPUTY, on_behalf_of=_for("alice", ["SECURITY_REVIEWER"]))
    assert _refused(lambda: s.check_decide(d, T0)) == "already_counted"
    # a deputy who approved for one delegator cannot approve again, for anyone
    s2, ids2 = _state()
    _ask(s2, ids2, 20_000)
    d = _decision(s2, DEPUTY, on_behalf_of=_for("bob", ["TECH_LEAD"]))
    s2.check_decide(d, T0)
    s2.decide(d, {}, T0, ids2)
    again = _decision(s2, DEPUTY, on_behalf_of=_for("sam", ["SECURITY_REVIEWER"]))
    assert _refused(lambda: s2.check_decide(again, T0)) == "already_counted"
    # ...nor in their own right, nor may the delegator approve after the deputy
    own = _decision(s2, DEPUTY.model_copy(update={"roles": ["SECURITY_REVIEWER"]}))
    assert _refused(lambda: s2.check_decide(own, T0)) == "already_approved"
    assert _refused(lambda: s2.check_decide(_decision(s2, LEAD2), T0)) == "already_approved"
    # a different human completes the quorum
    last = _decision(s2, SEC)
    s2.check_decide(last, T0)
    assert s2.decide(last, {}, T0, ids2).result.request.status is RequestStatus.APPROVED


def test_a_deputy_acts_with_the_delegated_roles_only() -> None:
    s, ids = _state()
    _ask(s, ids, 50)
    # dana holds TECH_LEAD herself, but was handed only SECURITY_REVIEWER by sam
    both = DEPUTY.model_copy(update={"roles": ["TECH_LEAD"]})
    d = _decision(s, both, on_behalf_of=_for("sam", ["SECURITY_REVIEWER"]))
    assert _refused(lambda: s.check_decide(d, T0)) == "role_not_allowed"
    d = _decision(s, both, role="TECH_LEAD", on_behalf_of=_for("sam", ["SECURITY_REVIEWER"]))
    assert _refused(lambda: s.check_decide(d, T0)) == "role_not_held"


def test_a_deputy_may_reject_for_the_delegator() -> None:
    s, ids = _state()
    _ask(s, ids, 50)
    d = _decision(s, DEPUTY, "REJECT", on_behalf_of=_for("alice", ["TECH_LEAD"]))
    s.check_decide(d, T0)
    request = s.decide(d, {}, T0, ids).result.request
    assert request.status is RequestStatus.REJECTED
    assert request.decided_on_behalf_of == "alice"


def test_a_decision_without_a_deputy_records_as_before() -> None:
    s, ids = _state()
    _ask(s, ids, 50)
    d = _decision(s, LEAD)
    assert "on_behalf_of" not in d.model_dump(mode="json")
    s.check_decide(d, T0)
    decided = s.decide(d, {}, T0, ids)
    dumped = decided.result.model_dump(mode="json")
    assert "on_behalf_of" not in dumped["decision"]
    assert dumped["request"]["deputies"] == {} and dumped["request"]["decided_on_behalf_of"] is None

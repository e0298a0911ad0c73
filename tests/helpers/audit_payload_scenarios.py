"""Instances driven through every audit payload writer of `InstanceState`, with a fixed
clock and id source, so what they record can be compared byte for byte with the bytes the
writers recorded before (tests/unit/audit_payload_bytes.json)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import AuditEvent
from gantral.domain.records import Cost, DecisionType
from gantral.governance.break_glass import BreakGlassUse
from gantral.governance.halts import HaltScope
from gantral.governance.standing import ArgumentPattern, StandingAsk, StandingUse
from gantral.policy.loading import load_policy, load_template
from gantral.policy.templates import PolicyRef, ShadowPin
from gantral.workflows.messages import (
    AgentEvent,
    AgentEventKind,
    AuthorizeStep,
    Decide,
    StartInstance,
)
from gantral.workflows.state import InstanceState

__all__ = ["T0", "T1", "instance_events"]

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
# Microseconds set: a datetime's JSON spelling differs with and without them.
T1 = T0 + timedelta(minutes=3, microseconds=120_500)
AGENT = Actor(id="agent-7", kind=ActorKind.AGENT, owner="olivia")
LEAD = Actor(id="alice", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])
SEC = Actor(id="sam", kind=ActorKind.HUMAN, roles=["SECURITY_REVIEWER"])
BOSS = Actor(id="maria", kind=ActorKind.HUMAN, roles=["SRE_MANAGER"])
OWNER = Actor(id="olivia", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])

TEMPLATE = """
id: pay
steps:
  - id: plan
  - id: transfer
    shadow: {id: strict}
    policy:
      requires_human_approval: true
      approvers: [{role: TECH_LEAD}]
      override_roles: [SRE_MANAGER]
      grant_ttl: 1h
      materiality_rules:
        - {level: CRITICAL, when: [{field: arguments.amount, op: gt, value: 10000}]}
      by_materiality:
        CRITICAL:
          approvers: [{role: TECH_LEAD}, {role: SECURITY_REVIEWER}]
          tiers:
            - {name: leads, timeout: 30m, reminders: [10m]}
            - {name: bosses, approvers: {role: SRE_MANAGER}, timeout: 1h, reminders: [20m]}
          on_timeout: EXPIRE
"""
STRICT = load_policy(
    b"""
materiality: LOW
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 100}]}
by_materiality:
  HIGH: {approvers: [{role: FINANCE}], timeouts: {primary: 1h}}
""",
    source="strict",
)
_ATTESTED = {
    "op": "decide",
    "body": {"request_id": "r", "n": 1.5},
    "attestation": {"key_id": "att-1", "signature": "ab"},
}


def _ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"{next(counter):032x}"


def _state(
    template: str = TEMPLATE, *, shadow_error: bool = False, read_model_fields: bool = False
) -> tuple[InstanceState, Any]:
    ref = PolicyRef(id="strict", version=2, content_hash=STRICT.content_hash())
    pin = (
        ShadowPin(ref=PolicyRef(id="gone"), error="unknown_policy: unknown policy 'gone'")
        if shadow_error
        else ShadowPin(ref=ref, policy=STRICT)
    )
    start = StartInstance(
        instance_id="inst_1", template=load_template(template), template_hash="sha256:t",
        owning_team_id="payments", started_by=AGENT, shadows={"transfer": pin},
        trigger_context={"environment": "production", "ratio": 0.5, "n": 3},
        callback_url="https://example.com/hook",
    )  # fmt: skip
    s = InstanceState(start, T0)
    s.read_model_fields = read_model_fields
    s.begin({"attested": {**_ATTESTED, "op": "start"}}, T0)
    return s, _ids()


def _ask(s: InstanceState, ids: Any, amount: int, step: str = "transfer") -> Any:
    req = AuthorizeStep(step_id=step, action="pay", arguments={"amount": amount}, actor=AGENT)
    s.check_authorize(req)
    return s.authorize(req, T1, ids)


def _decide(s: InstanceState, ids: Any, who: Actor, kind: str = "APPROVE", **more: Any) -> Any:
    pending = s.pending
    assert pending is not None
    d = Decide(
        request_id=pending.request_id, decision_type=DecisionType(kind), actor=who,
        idempotency_key=f"k-{who.id}", **more,
    )  # fmt: skip
    s.check_decide(d)
    return s.decide(d, {"attested": _ATTESTED}, T1, ids)


def _report(s: InstanceState, now: datetime, **fields: Any) -> Any:
    event = AgentEvent(actor=AGENT, **fields)
    s.check_report(event)
    return s.report(event, now)


def instance_events(*, read_model_fields: bool = False) -> list[AuditEvent]:
    """Every event the scenarios record, in order (several instances, one list); without
    the read-model fields unless asked, as runs before the read-model-fields-v1 patch."""
    events: list[AuditEvent] = []
    # Approved, started with its grant, completed with a cost; a reused grant; a plain step.
    s, ids = _state(read_model_fields=read_model_fields)
    _ask(s, ids, 50)
    _ask(s, ids, 60)  # supersedes the pending request (reauthorized)
    decided = _decide(s, ids, LEAD, justification="fine", channel_ref="slack:1")
    s.settle(decided.request, decided.grant, T1)
    grant = decided.grant
    start = {"step_id": "transfer", "grant_id": grant.grant_id, "args_digest": grant.args_digest}
    _report(s, T1, kind=AgentEventKind.STEP_STARTED, **start, idempotency_key="i-1")
    _report(s, T1, kind=AgentEventKind.STEP_STARTED, **start)  # reused: a violation
    cost = Cost(tokens=12, money=0.25, currency="EUR", wall_time_seconds=3.0)
    _report(s, T1, kind=AgentEventKind.STEP_COMPLETED, step_id="transfer", cost=cost,
            detail={"rows": 3, "ok": True})  # fmt: skip
    _report(s, T1, kind=AgentEventKind.COST, cost=Cost(tokens=1, money=2, currency="EUR"))
    _ask(s, ids, 5, step="plan")  # allowed: a grant without a request
    s.seal(T1)
    events += s.log.unsent()
    # An override needing more authority (superseded with why and materiality); escalation
    # through both tiers with reminders, then the timeout; a shadow that did not resolve.
    s, ids = _state(shadow_error=True, read_model_fields=read_model_fields)
    _ask(s, ids, 50)
    _decide(s, ids, BOSS, "OVERRIDE", justification="bigger", context_delta={"amount": 50_000})
    request = s.pending
    assert request is not None
    s.enter_tier(request, 0, T1)
    s.remind(request, 0, T1)
    s.enter_tier(request, 1, T1)
    s.remind(request, 1, T1)
    request.deadline = None
    s.remind(request, 1, T1)
    s.time_out(request, T1, ids)
    s.seal(T1)
    events += s.log.unsent()
    # Separation of duties waived: the agent's owner decides and it is recorded.
    s, ids = _state(
        TEMPLATE.replace("grant_ttl: 1h", "grant_ttl: 1h\n      separation_of_duties: false"),
        read_model_fields=read_model_fields,
    )
    _ask(s, ids, 50)
    _decide(s, ids, OWNER)
    events += s.log.unsent()
    events += _standing_events(read_model_fields)
    events += _halt_events(read_model_fields)
    events += _break_glass_events(read_model_fields)
    return events


def _break_glass_events(read_model_fields: bool) -> list[AuditEvent]:
    """A call a policy sends to a human, let through by a break-glass in effect."""
    s, ids = _state(read_model_fields=read_model_fields)
    glass = BreakGlassUse(
        break_glass_id="bg_1", approvers={"sam": "security", "maria": "platform-admin"},
        expires_at=T1 + timedelta(minutes=30),
    )  # fmt: skip
    req = AuthorizeStep(
        step_id="transfer", action="pay", arguments={"amount": 40}, actor=AGENT, break_glass=glass
    )
    s.check_authorize(req)
    s.authorize(req, T1, ids)
    return [e for e in s.log.unsent() if e.type == "ALLOWED_BY_BREAK_GLASS"]


def _halt_events(read_model_fields: bool) -> list[AuditEvent]:
    """A pending request's deadline frozen by a halt over its team, then resumed."""
    s, ids = _state(read_model_fields=read_model_fields)
    _ask(s, ids, 50_000)
    request = s.pending
    assert request is not None
    s.enter_tier(request, 0, T1)
    scope = HaltScope(team="payments")
    s.note_halt("halt_1", scope, lifted=False)
    s.sync_freeze(T1)
    s.note_halt("halt_1", scope, lifted=True)
    s.sync_freeze(T1 + timedelta(seconds=90, microseconds=250))
    return [e for e in s.log.unsent() if e.type.startswith("DEADLINE_")]


def _standing_events(read_model_fields: bool) -> list[AuditEvent]:
    """A standing grant given with an APPROVE, then a later call it serves."""
    standing = TEMPLATE.replace("grant_ttl: 1h", f"grant_ttl: 1h\n      {_STANDING}")
    s, ids = _state(standing, read_model_fields=read_model_fields)
    _ask(s, ids, 50)
    ask = StandingAsk(
        pattern={"amount": ArgumentPattern(max=50)}, ttl=timedelta(minutes=90), max_uses=3
    )
    decided = _decide(s, ids, LEAD, standing=ask)
    s.settle(decided.request, decided.grant, T1)
    given = decided.result.standing_grant
    assert given is not None
    use = StandingUse(
        standing_id=given.standing_id, approver=given.approver,
        approver_role=given.approver_role, pattern=given.pattern,
        materiality=given.materiality, expires_at=given.expires_at, use=1,
        max_uses=given.max_uses,
    )  # fmt: skip
    req = AuthorizeStep(
        step_id="transfer", action="pay", arguments={"amount": 40}, actor=AGENT, standing=use
    )
    s.check_authorize(req)
    s.authorize(req, T1, ids)
    return list(s.log.unsent())


_STANDING = "standing: {max_ttl: 2h, max_uses: 5, roles: [TECH_LEAD]}"

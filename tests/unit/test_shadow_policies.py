"""Shadow policies without a server: the instance records what the shadow would have
decided and is governed by the enforced policy alone; the report classifies flips."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import ShadowEvaluated, check_payload, parse_payload
from gantral.errors import Conflict, InvalidInput
from gantral.policy.loading import load_policy, load_template
from gantral.policy.templates import PolicyRef, ShadowPin
from gantral.replay.shadow_report import changes_of, check_window, shadow_report
from gantral.workflows.messages import AuthorizeOutcome, AuthorizeStep, StartInstance
from gantral.workflows.state import InstanceState

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
AGENT = Actor(id="agent-7", kind=ActorKind.AGENT, owner="olivia")
TEMPLATE = """
id: refunds
steps:
  - id: refund
    policy: {materiality: LOW}
    shadow: {id: strict}
"""
# Over 100 is HIGH and needs finance.
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
REF = PolicyRef(id="strict", version=2, content_hash=STRICT.content_hash())


def _state(shadows: dict[str, ShadowPin]) -> InstanceState:
    start = StartInstance(
        instance_id="inst_1", template=load_template(TEMPLATE), template_hash="sha256:t",
        owning_team_id="payments", started_by=AGENT, shadows=shadows,
    )  # fmt: skip
    s = InstanceState(start, T0)
    s.begin({}, T0)
    return s


def _authorize(s: InstanceState, amount: int) -> Any:
    counter = itertools.count(1)
    req = AuthorizeStep(step_id="refund", arguments={"amount": amount}, actor=AGENT)
    s.check_authorize(req)
    return s.authorize(req, T0, lambda: f"{next(counter):032x}").result


def _shadow_events(s: InstanceState) -> list[dict[str, Any]]:
    return [e.payload for e in s.log.unsent() if e.type is AuditEventType.SHADOW_EVALUATED]


def test_the_enforced_policy_decides_and_the_shadow_is_recorded() -> None:
    s = _state({"refund": ShadowPin(ref=REF, policy=STRICT)})
    result = _authorize(s, 500)
    assert result.outcome is AuthorizeOutcome.ALLOW and result.grant is not None
    [event] = _shadow_events(s)
    check_payload(AuditEventType.SHADOW_EVALUATED, event)
    assert (event["enforced_outcome"], event["outcome"]) == ("ALLOW", "PENDING")
    assert (event["enforced_materiality"], event["materiality"]) == ("LOW", "HIGH")
    assert (event["policy_id"], event["policy_version"]) == ("strict", 2)
    assert event["approvers"] == ["FINANCE"] and event["args_digest"] == result.args_digest
    started = next(e for e in s.log.unsent() if e.type is AuditEventType.INSTANCE_STARTED)
    assert started.payload["shadow_policies"]["refund"]["ref"]["version"] == 2
    check_payload(AuditEventType.INSTANCE_STARTED, started.payload)


def test_a_shadow_that_throws_is_recorded_as_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("gantral.policy.shadow.plan_request", boom)
    s = _state({"refund": ShadowPin(ref=REF, policy=STRICT)})
    assert _authorize(s, 500).outcome is AuthorizeOutcome.ALLOW
    [event] = _shadow_events(s)
    check_payload(AuditEventType.SHADOW_EVALUATED, event)
    assert event["error"] == "ZeroDivisionError: division by zero" and "outcome" not in event


def test_a_shadow_that_did_not_resolve_is_recorded_as_its_error() -> None:
    pin = ShadowPin(ref=PolicyRef(id="gone"), error="unknown_policy: unknown policy 'gone'")
    s = _state({"refund": pin})
    assert _authorize(s, 5).outcome is AuthorizeOutcome.ALLOW
    [event] = _shadow_events(s)
    assert event["error"] == pin.error and event["policy_version"] is None


def test_without_a_shadow_nothing_is_recorded() -> None:
    s = _state({})
    assert _authorize(s, 500).outcome is AuthorizeOutcome.ALLOW
    assert _shadow_events(s) == []
    started = next(e for e in s.log.unsent() if e.type is AuditEventType.INSTANCE_STARTED)
    assert "shadow_policies" not in started.payload
    # An unset shadow leaves the template (and its content hash) as it was.
    assert "shadow" not in load_template(TEMPLATE.replace("    shadow: {id: strict}\n", "")
                                         ).model_dump(mode="json")["steps"][0]  # fmt: skip


def _point(enforced: str, shadow: str | None, **more: Any) -> ShadowEvaluated:
    recorded = {"step_id": "refund", "args_digest": "sha256:a", "enforced_outcome": enforced,
                "outcome": shadow, "enforced_materiality": "LOW", "materiality": "LOW",
                "enforced_approvers": [], "approvers": [], "policy_id": "strict",
                "policy_version": 2, "content_hash": "sha256:c"} | more  # fmt: skip
    point = parse_payload(AuditEventType.SHADOW_EVALUATED, recorded)
    assert isinstance(point, ShadowEvaluated)
    return point


def test_changes_are_classified_by_kind_and_direction() -> None:
    up = _point("ALLOW", "PENDING", materiality="HIGH", approvers=["FINANCE"])
    assert [(c.kind, c.recorded, c.candidate) for c in changes_of("i1", 4, up)] == [
        ("outcome", "ALLOW", "PENDING"),
        ("materiality", "LOW", "HIGH"),
    ]
    down = _point("PENDING", "ALLOW", enforced_approvers=["FINANCE"])
    assert [(c.kind, c.recorded, c.candidate) for c in changes_of("i2", 4, down)] == [
        ("outcome", "PENDING", "ALLOW")
    ]
    other = _point("PENDING", "PENDING", enforced_approvers=["LEAD"], approvers=["CFO"])
    assert [(c.kind, c.recorded, c.candidate) for c in changes_of("i3", 4, other)] == [
        ("approvers", ["LEAD"], ["CFO"])
    ]
    assert changes_of("i4", 4, _point("ALLOW", "ALLOW")) == []


def test_the_report_counts_flips_errors_and_names_instances() -> None:
    events = [
        ("i1", 4, _point("ALLOW", "PENDING", materiality="HIGH", approvers=["FINANCE"])),
        ("i1", 9, _point("ALLOW", "ALLOW")),
        ("i2", 4, _point("PENDING", "ALLOW", enforced_materiality="HIGH")),
        ("i3", 4, _point("ALLOW", None, error="ZeroDivisionError: x", policy_version=3)),
    ]
    report = shadow_report("strict", T0 - timedelta(days=1), T0, events)
    assert (report.instances, report.decision_points, report.evaluated) == (3, 4, 3)
    assert (report.errors, report.unchanged, report.changed) == (1, 1, 2)
    assert report.counts == {"outcome": 2, "materiality": 2, "approvers": 0}
    assert report.flips == {"ALLOW->PENDING": 1, "PENDING->ALLOW": 1}
    assert report.materiality_changes == {"LOW->HIGH": 1, "HIGH->LOW": 1}
    assert report.versions == [2, 3]
    assert {(c.instance_id, c.kind) for c in report.examples} == {
        ("i1", "outcome"), ("i1", "materiality"), ("i2", "outcome"), ("i2", "materiality")
    }  # fmt: skip
    assert [(e.instance_id, e.error) for e in report.error_examples] == [
        ("i3", "ZeroDivisionError: x")
    ]


@pytest.mark.parametrize(
    ("since", "until", "reason"),
    [
        (T0, T0, "invalid_window"),
        (T0, T0 - timedelta(hours=1), "invalid_window"),
        (T0 - timedelta(days=32), T0, "window_too_large"),
        (T0.replace(tzinfo=None), T0 + timedelta(hours=1), "invalid_window"),
    ],
)
def test_a_window_is_ordered_and_bounded(since: datetime, until: datetime, reason: str) -> None:
    with pytest.raises((InvalidInput, Conflict)) as refused:
        check_window(since, until)
    assert refused.value.reason == reason
    # A naive time is malformed (422); times valid alone but contradicting are a 409.
    naive = since.tzinfo is None
    assert isinstance(refused.value, InvalidInput if naive else Conflict)

"""What an agent is told when Gantral refuses a tool call: who, why, and that nothing ran."""

from __future__ import annotations

from datetime import UTC, datetime

import gantral_sdk as sdk
import pytest

from gantral.integrations._core import _reason, decision_for, refusal_text
from gantral.policy.materiality import Materiality

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def request(status: sdk.RequestStatus, decided_by: str | None = None) -> sdk.HumanRequest:
    return sdk.HumanRequest(
        request_id="req_1", step_id="transfer", action="pay", arguments={"amount": 5},
        args_digest="d", materiality=Materiality.MEDIUM, required_approvers=["TECH_LEAD"],
        deadline=None, context_snapshot={}, created_at=NOW, status=status,
        decided_by=decided_by,
    )  # fmt: skip


def decision(request_id: str, actor: str, why: str | None) -> sdk.Decision:
    return sdk.Decision(
        decision_id=f"dec-{actor}", instance_id="i", request_id=request_id,
        decision_type=sdk.DecisionType.REJECT, human_actor_id=actor, role="TECH_LEAD",
        justification=why, args_digest="d", idempotency_key="k", at=NOW,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("exc", "found", "text", "reason"),
    [
        (
            sdk.StepRejected("x", request=request(sdk.RequestStatus.REJECTED)),
            decision("req_1", "alice", "freeze week"),
            "Gantral: tool 'pay' was REJECTED by alice: freeze week; "
            "the call was not made (request req_1).",
            "rejected",
        ),
        (
            sdk.StepExpired("x", request=request(sdk.RequestStatus.EXPIRED, "system")),
            None,
            "Gantral: tool 'pay' was EXPIRED by system; the call was not made (request req_1).",
            "expired",
        ),
        (
            sdk.StepCancelled("x", request=request(sdk.RequestStatus.SUPERSEDED)),
            decision("req_1", "alice", None),
            "Gantral: the edit of tool 'pay' by alice needs more authority under the policy, "
            "so it went to other approvers; the call was not made (request req_1).",
            "superseded",
        ),
        (
            sdk.DecisionTimeout("x", request=request(sdk.RequestStatus.PENDING)),
            None,
            "Gantral: no decision on tool 'pay' in time; the call was not made (request req_1).",
            "decision_timeout",
        ),
        (
            sdk.DigestMismatch("x", request=request(sdk.RequestStatus.APPROVED)),
            None,
            "Gantral: the grant for tool 'pay' does not cover these arguments; "
            "the call was not made (request req_1).",
            "args_digest_mismatch",
        ),
    ],
)
def test_refusals_say_who_and_why(
    exc: sdk.StepRefused, found: sdk.Decision | None, text: str, reason: str
) -> None:
    assert refusal_text("pay", exc, found) == text
    assert _reason(exc) == reason


def test_the_last_decision_on_the_request_is_the_one_that_settled_it() -> None:
    decisions = [
        decision("req_0", "zed", None),
        decision("req_1", "bob", None),
        decision("req_1", "alice", "second"),
    ]
    found = decision_for(decisions, "req_1")
    assert found is not None and found.human_actor_id == "alice"
    assert decision_for(decisions, None) is None
    assert decision_for(decisions, "req_9") is None

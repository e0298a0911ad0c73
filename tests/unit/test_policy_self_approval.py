"""`self_approval: allowed`: the caller may decide their own request in their MCP client,
only without separation of duties and at LOW or MEDIUM; the workflow's decision check
accepts channel `mcp-elicitation` only there, and only from the caller."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from gantral.domain.actors import Actor, ActorKind
from gantral.domain.records import DecisionType, HumanRequest
from gantral.domain.states import State
from gantral.errors import GantralError, Reason
from gantral.policy.compiled import compile_policy
from gantral.policy.materiality import Materiality
from gantral.policy.models import Policy
from gantral.policy.schema import document_schema
from gantral.workflows.decision_checks import check_decision
from gantral.workflows.messages import Decide

BASE: dict[str, Any] = {
    "materiality": "MEDIUM",
    "requires_human_approval": True,
    "approvers": [{"role": "TECH_LEAD"}],
}


def policy(**fields: Any) -> dict[str, Any]:
    return {**BASE, **fields}


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"self_approval": "allowed"}, "needs separation_of_duties: false"),
        (
            {"self_approval": "allowed", "separation_of_duties": True},
            "needs separation_of_duties: false",
        ),
        (
            {"self_approval": "allowed", "separation_of_duties": False, "materiality": "HIGH"},
            "for LOW or MEDIUM materiality, not HIGH",
        ),
        (
            {"self_approval": "allowed", "separation_of_duties": False, "materiality": "CRITICAL"},
            "for LOW or MEDIUM materiality, not CRITICAL",
        ),
        ({"self_approval": "yes", "separation_of_duties": False}, "'allowed'"),
    ],
)
def test_self_approval_is_refused_where_it_is_not_harmless(
    fields: dict[str, Any], says: str
) -> None:
    document = policy(**fields)
    with pytest.raises(ValidationError, match=says):
        Policy.model_validate(document)
    schema = document_schema(Policy)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_unset_it_leaves_the_policy_and_its_hash_as_they_were() -> None:
    plain = Policy.model_validate(policy(separation_of_duties=False))
    assert "self_approval" not in plain.model_dump(mode="json")
    allowed = Policy.model_validate(policy(separation_of_duties=False, self_approval="allowed"))
    jsonschema.validate(allowed.model_dump(mode="json"), document_schema(Policy))
    assert allowed.model_dump(mode="json")["self_approval"] == "allowed"
    assert allowed.content_hash() != plain.content_hash()


def test_a_level_raised_past_medium_is_never_self_approved() -> None:
    document = policy(
        separation_of_duties=False,
        self_approval="allowed",
        materiality_rules=[
            {"level": "HIGH", "when": [{"field": "arguments.amount", "op": "gt", "value": 10}]}
        ],
        by_materiality={"HIGH": {"approvers": [{"role": "CFO"}]}},
    )
    compiled = compile_policy(Policy.model_validate(document))
    assert compiled.plans[Materiality.MEDIUM].self_approval
    assert any("self-approval" in line for line in compiled.plans[Materiality.MEDIUM].explanation)
    assert not compiled.plans[Materiality.HIGH].self_approval
    assert not any("self-approval" in line for line in compiled.plans[Materiality.HIGH].explanation)


def _request(requested_by: str = "bob") -> HumanRequest:
    return HumanRequest(
        request_id="req_1", step_id="pay", action="pay", arguments={}, args_digest="sha256:x",
        materiality=Materiality.MEDIUM, required_approvers=["TECH_LEAD"], deadline=None,
        context_snapshot={}, requested_by=requested_by, created_at=datetime.now(UTC),
    )  # fmt: skip


def _decide(who: str, channel: str) -> Decide:
    return Decide(
        request_id="req_1", decision_type=DecisionType.APPROVE,
        actor=Actor(id=who, kind=ActorKind.HUMAN, roles=["TECH_LEAD"]),
        idempotency_key="k", seen_args_digest="sha256:x", channel=channel,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "who", "refused"),
    [
        ({"self_approval": "allowed"}, "bob", None),
        ({}, "bob", Reason.SELF_APPROVAL_NOT_ALLOWED),  # SoD off, but no self-approval
        ({"self_approval": "allowed"}, "carol", Reason.SELF_APPROVAL_NOT_ALLOWED),
    ],
    ids=["allowed", "not-allowed", "not-the-caller"],
)
def test_the_decision_check_admits_the_elicitation_channel_only_where_allowed(
    fields: dict[str, Any], who: str, refused: Reason | None
) -> None:
    compiled = compile_policy(Policy.model_validate(policy(separation_of_duties=False, **fields)))
    plan = compiled.plans[Materiality.MEDIUM]
    request = _request()
    decision = _decide(who, "mcp-elicitation")
    if refused is None:
        check_decision(decision, State.WAITING_FOR_HUMAN, request, plan, {"bob"})
        return
    with pytest.raises(GantralError) as exc:
        check_decision(decision, State.WAITING_FOR_HUMAN, request, plan, {"bob"})
    assert exc.value.reason == refused
    # The same human from any other channel is judged as before.
    check_decision(_decide(who, "api"), State.WAITING_FOR_HUMAN, request, plan, {"bob"})

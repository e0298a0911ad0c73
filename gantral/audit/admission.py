"""What the sink admits: batches only from the instance's own workflow, and attested facts.

The sink is an activity on its own task queue; anything that can schedule an activity
there could otherwise write a made-up instance into the log. So a batch is refused unless
it comes from the workflow that owns the instance id (same workflow id, a Gantral
workflow type), and the facts only the API can vouch for carry its attestation: the
start of an instance and every human decision. Temporal mTLS plus a namespace authorizer
remain the production control over who may run workflows at all (docs/identity.md).
"""

from __future__ import annotations

from typing import Any

from gantral.attestation import Attestation, TrustAnchors
from gantral.domain.audit_event import AppendAuditEvents, AuditEvent, AuditEventType
from gantral.errors import Forbidden, Reason

__all__ = ["ATTESTED_EVENTS", "check_attested", "check_origin"]

INSTANCE_WORKFLOW = "GantralInstance"
ACCESS_LOG_WORKFLOW = "GantralAccessLog"
ACCESS_LOG_ID = "gantral-access-log"

# Event type -> the operation whose attestation it must carry, the field of the attested
# call naming the actor, and the fields that must equal the event's own.
ATTESTED_EVENTS: dict[AuditEventType, tuple[str, str, tuple[str, ...]]] = {
    AuditEventType.INSTANCE_STARTED: (
        "start",
        "started_by",
        ("owning_team_id", "trigger_context"),
    ),
    AuditEventType.DECISION_RECORDED: (
        "decide",
        "actor",
        ("request_id", "decision_type", "role", "idempotency_key", "context_delta"),
    ),
    # Signed for the access log as a whole: its segments change, the log does not.
    AuditEventType.ADMIN_ACTION: ("admin_action", "actor", ("action", "detail")),
}


def check_origin(request: AppendAuditEvents, workflow_type: str, workflow_id: str) -> None:
    """Refuse a batch that does not come from the workflow owning its instance id."""
    if workflow_type == INSTANCE_WORKFLOW and workflow_id == request.instance_id:
        return
    if (
        workflow_type == ACCESS_LOG_WORKFLOW
        and workflow_id == ACCESS_LOG_ID
        and request.instance_id.startswith(f"{ACCESS_LOG_ID}-")
    ):
        return
    raise Forbidden(
        f"audit batch for {request.instance_id} sent by workflow {workflow_id!r} of type "
        f"{workflow_type!r}: only the instance's own workflow may write its log",
        reason=Reason.FOREIGN_WORKFLOW,
    )


def check_attested(event: AuditEvent, anchors: TrustAnchors) -> None:
    """Refuse an event that must be attested by the API and is not (or not for itself)."""
    rule = ATTESTED_EVENTS.get(event.type)
    if rule is None:
        return
    op, who, same_fields = rule
    attested: Any = event.payload.get("attested")
    problem = _problem(event, op, who, same_fields, attested, anchors)
    if problem is not None:
        raise Forbidden(
            f"event {event.instance_id} seq {event.seq} ({event.type}): {problem}",
            reason=Reason.UNATTESTED,
        )


def _problem(
    event: AuditEvent,
    op: str,
    who: str,
    same: tuple[str, ...],
    attested: Any,
    anchors: TrustAnchors,
) -> str | None:
    if not isinstance(attested, dict) or attested.get("op") != op:
        return f"carries no attested {op} call"
    body, raw = attested.get("body"), attested.get("attestation")
    if not isinstance(body, dict) or not isinstance(raw, dict):
        return "the attested call is malformed"
    try:
        att = Attestation.model_validate(raw)
    except ValueError:
        return "the attestation is malformed"
    scope = ACCESS_LOG_ID if op == "admin_action" else event.instance_id
    problem = anchors.problem(op, scope, body, att)
    if problem is not None:
        return problem
    if body.get(who) != event.actor.model_dump(mode="json"):
        return "the event's actor is not the attested one"
    for name in same:
        # A decision that named no role had it chosen by the workflow: nothing to compare.
        if name == "role" and body.get(name) is None:
            continue
        if body.get(name) != event.payload.get(name):
            return f"the event's {name} differs from the attested call"
    return None

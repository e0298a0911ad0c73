"""The payload of every audit event type: one model each, so the log has one schema.

`AuditPayload` is the discriminated union (on `type`) that `specs/audit-events.schema.json`
is generated from; the workflow checks every payload it records against the model of
its type (`check_payload`), so a payload that drifts from its schema fails at once, in
tests, instead of reaching the log. The stored payload stays the plain JSON object (the
`type` lives beside it in the event), so hashes are unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from gantral.domain.audit_event import AuditEventType
from gantral.domain.states import State

__all__ = ["AuditPayload", "check_payload", "payload_schema"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attested(_Payload):
    """The API's signed call, kept so the sink and any verifier can check it."""

    op: str
    body: dict[str, Any]
    attestation: dict[str, Any] | None


class InstanceStarted(_Payload):
    type: Literal[AuditEventType.INSTANCE_STARTED] = AuditEventType.INSTANCE_STARTED
    workflow_id: str
    workflow_version: int
    template_hash: str
    owning_team_id: str
    trigger_context: dict[str, Any]
    pinned_policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Steps with a shadow policy: its pinned reference (and error, if it did not resolve).
    shadow_policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    attested: Attested | None = None
    callback_url: str | None = None


class StateTransition(_Payload):
    type: Literal[AuditEventType.STATE_TRANSITION] = AuditEventType.STATE_TRANSITION
    seq: int
    from_state: State
    to_state: State
    cause: str
    at: datetime
    request_id: str | None = None


class PolicyEvaluated(_Payload):
    type: Literal[AuditEventType.POLICY_EVALUATED] = AuditEventType.POLICY_EVALUATED
    step_id: str
    args_digest: str
    materiality: str
    requires_human: bool
    explanation: list[str]


class ShadowEvaluated(_Payload):
    """A step's shadow policy evaluated beside the enforced one: what it would have
    decided (`outcome` None and `error` set when it could not be evaluated). Never
    changes the enforced outcome."""

    type: Literal[AuditEventType.SHADOW_EVALUATED] = AuditEventType.SHADOW_EVALUATED
    step_id: str
    args_digest: str
    policy_id: str
    policy_version: int | None
    content_hash: str | None
    enforced_outcome: Literal["ALLOW", "PENDING"]
    enforced_materiality: str
    enforced_approvers: list[str]
    outcome: Literal["ALLOW", "PENDING"] | None = None
    materiality: str | None = None
    approvers: list[str] = Field(default_factory=list)
    explanation: list[str] = Field(default_factory=list)
    error: str | None = None


class HumanRequested(_Payload):
    type: Literal[AuditEventType.HUMAN_REQUESTED] = AuditEventType.HUMAN_REQUESTED
    request_id: str
    step_id: str
    args_digest: str
    approvers: list[str]
    separation_of_duties: bool
    grant_holder: str | None


class RequestSuperseded(_Payload):
    type: Literal[AuditEventType.REQUEST_SUPERSEDED] = AuditEventType.REQUEST_SUPERSEDED
    request_id: str
    superseded_by: str
    why: str | None = None
    materiality: str | None = None


class DecisionRecorded(_Payload):
    type: Literal[AuditEventType.DECISION_RECORDED] = AuditEventType.DECISION_RECORDED
    decision_id: str
    instance_id: str
    request_id: str
    decision_type: str
    human_actor_id: str
    role: str
    justification: str | None
    context_snapshot_ref: str | None
    args_digest: str
    context_delta: dict[str, Any] | None
    idempotency_key: str
    at: datetime
    channel: str
    channel_ref: str | None
    quorum_satisfied: bool
    still_needed: list[str]
    separation_of_duties_waived: bool | None = None
    on_behalf_of: str | None = None
    delegation_id: str | None = None
    attested: Attested | None = None


class Escalated(_Payload):
    type: Literal[AuditEventType.ESCALATED] = AuditEventType.ESCALATED
    request_id: str
    tier: int
    approvers: list[str]


class ReminderSent(_Payload):
    type: Literal[AuditEventType.REMINDER_SENT] = AuditEventType.REMINDER_SENT
    request_id: str
    tier: int
    deadline: datetime | None


class TimedOut(_Payload):
    type: Literal[AuditEventType.TIMED_OUT] = AuditEventType.TIMED_OUT
    request_id: str
    on_timeout: str
    outcome: str


class GrantIssued(_Payload):
    type: Literal[AuditEventType.GRANT_ISSUED] = AuditEventType.GRANT_ISSUED
    grant_id: str
    step_id: str
    request_id: str | None
    args_digest: str
    expires_at: datetime
    holder: str | None = None


class GrantUsed(_Payload):
    type: Literal[AuditEventType.GRANT_USED] = AuditEventType.GRANT_USED
    grant_id: str
    step_id: str | None


class AgentEventRecorded(_Payload):
    type: Literal[AuditEventType.AGENT_EVENT] = AuditEventType.AGENT_EVENT
    kind: str
    step_id: str | None = None
    grant_id: str | None = None
    args_digest: str | None = None
    cost: dict[str, Any] | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None


class CostReported(_Payload):
    type: Literal[AuditEventType.COST_REPORTED] = AuditEventType.COST_REPORTED
    tokens: int
    money: float
    currency: str
    wall_time_seconds: float


class ViolationRecorded(_Payload):
    type: Literal[AuditEventType.VIOLATION] = AuditEventType.VIOLATION
    reason: str
    message: str
    event: dict[str, Any]


class AccessRefused(_Payload):
    type: Literal[AuditEventType.ACCESS_REFUSED] = AuditEventType.ACCESS_REFUSED
    attempted: str
    reason: str
    message: str
    request_id: str | None = None
    instance_id: str | None = None


class AdminActionRecorded(_Payload):
    type: Literal[AuditEventType.ADMIN_ACTION] = AuditEventType.ADMIN_ACTION
    action: str
    detail: dict[str, Any]
    attested: Attested | None = None


class InstanceSealed(_Payload):
    type: Literal[AuditEventType.INSTANCE_SEALED] = AuditEventType.INSTANCE_SEALED
    # An instance's final state, or the access log's segment number.
    state: State | None = None
    segment: int | None = None


class HistoryArchived(_Payload):
    type: Literal[AuditEventType.HISTORY_ARCHIVED] = AuditEventType.HISTORY_ARCHIVED
    instance_id: str
    object_key: str
    sha256: str
    bytes: int
    run_ids: list[str]
    history_events: int
    audit_head: str | None


class ExecutionClosed(_Payload):
    """Recorded by the sink: an instance's execution closed without Gantral's end and seal.
    Who closed it is unknown; `temporal_identity` is what the Temporal client claimed."""

    type: Literal[AuditEventType.EXECUTION_CLOSED] = AuditEventType.EXECUTION_CLOSED
    instance_id: str
    # None when Temporal no longer has the history (status HISTORY_LOST).
    run_id: str | None
    status: Literal["TERMINATED", "TIMED_OUT", "CANCELED", "FAILED", "HISTORY_LOST"]
    closed_at: datetime | None
    detected_at: datetime
    reason: str | None
    temporal_identity: str | None
    # The last event the instance's chain holds, where it stopped.
    audit_seq: int
    audit_head: str | None


AuditPayload = Annotated[
    InstanceStarted
    | StateTransition
    | PolicyEvaluated
    | ShadowEvaluated
    | HumanRequested
    | RequestSuperseded
    | DecisionRecorded
    | Escalated
    | ReminderSent
    | TimedOut
    | GrantIssued
    | GrantUsed
    | AgentEventRecorded
    | CostReported
    | ViolationRecorded
    | AccessRefused
    | AdminActionRecorded
    | InstanceSealed
    | HistoryArchived
    | ExecutionClosed,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AuditPayload)


def check_payload(type_: AuditEventType, payload: dict[str, Any]) -> None:
    """Raise ValueError (pydantic's ValidationError) unless `payload` fits its type's model."""
    _ADAPTER.validate_python({**payload, "type": type_})


def payload_schema() -> dict[str, Any]:
    """The JSON Schema of every event payload, keyed by `type`."""
    schema: dict[str, Any] = _ADAPTER.json_schema()
    schema["title"] = "Gantral audit event payloads"
    return schema

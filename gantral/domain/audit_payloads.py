"""The payload of every audit event type: one model each, so the log has one schema.

`AuditPayload` is the discriminated union (on `type`) that `specs/audit-events.schema.json`
is generated from. Writers build the model of their event (`AuditLog.record` takes
nothing else), so a payload that drifts from its schema fails where it is written. The
stored payload stays the plain JSON object of `recorded()` (the `type` lives beside it in
the event): exactly the bytes the writers stored before the models existed
(tests/unit/test_audit_payload_bytes.py holds them to it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter

from gantral.domain.audit_event import AuditEventType, format_at
from gantral.domain.materiality import Materiality
from gantral.domain.states import State

__all__ = ["AuditPayload", "ClosedStatus", "check_payload", "parse_payload", "payload_schema"]

# An instant spelled as the event's own `at` (`format_at`), for payloads written beside the
# workflow (the sink's closure and archive records); the workflow's spell pydantic's way.
_SinkAt = Annotated[datetime, PlainSerializer(format_at, return_type=str, when_used="json")]


class _Payload(BaseModel):
    """One event type's payload. Fields in the order the log has always written them: the
    stored (canonical) bytes do not depend on it, the JSON the workflow sends does.

    The log holds events of every earlier release and readers parse them through these
    models: a field added after its event type was first written has a default (None
    where the event did not record it), so an older event still parses."""

    model_config = ConfigDict(extra="forbid")

    def recorded(self) -> dict[str, Any]:
        """The payload as the log stores it: JSON values, without `type` (the event holds
        it), and only the fields the writer gave. A field left out stays out of the log and
        one given as None is a null, as when writers built the dicts themselves."""
        return self.model_dump(mode="json", exclude_unset=True, exclude={"type"})


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
    attested: Attested | None = None
    # Steps with a shadow policy: its pinned reference (and error, if it did not resolve).
    shadow_policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
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
    materiality: Materiality
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
    enforced_materiality: Materiality
    enforced_approvers: list[str]
    outcome: Literal["ALLOW", "PENDING"] | None = None
    materiality: Materiality | None = None
    approvers: list[str] = Field(default_factory=list)
    explanation: list[str] = Field(default_factory=list)
    error: str | None = None


class HumanRequested(_Payload):
    type: Literal[AuditEventType.HUMAN_REQUESTED] = AuditEventType.HUMAN_REQUESTED
    request_id: str
    step_id: str
    args_digest: str
    approvers: list[str]
    # Both recorded since attested calls (67d3443): None in a request recorded before.
    separation_of_duties: bool | None = None
    grant_holder: str | None = None
    # For the approver inbox's read model: the first tier's deadline, and the humans kept
    # from deciding. Written by runs with the read-model-fields-v1 patch; older lack them.
    deadline: datetime | None = None
    excluded_approvers: list[str] | None = None


class RequestSuperseded(_Payload):
    type: Literal[AuditEventType.REQUEST_SUPERSEDED] = AuditEventType.REQUEST_SUPERSEDED
    request_id: str
    superseded_by: str
    why: str | None = None
    materiality: Materiality | None = None


class DecisionRecorded(_Payload):
    type: Literal[AuditEventType.DECISION_RECORDED] = AuditEventType.DECISION_RECORDED
    decision_id: str
    instance_id: str
    request_id: str
    decision_type: str
    human_actor_id: str
    role: str
    justification: str | None
    # Recorded since attested calls (67d3443); the channel since channels (916012f).
    # None in a decision recorded before.
    context_snapshot_ref: str | None = None
    args_digest: str
    context_delta: dict[str, Any] | None
    idempotency_key: str
    at: datetime
    channel: str | None = None
    channel_ref: str | None = None
    # A deputy's decision: the delegator it decided for, under which delegation.
    on_behalf_of: str | None = None
    delegation_id: str | None = None
    quorum_satisfied: bool
    still_needed: list[str]
    attested: Attested | None = None
    separation_of_duties_waived: bool | None = None


class Escalated(_Payload):
    type: Literal[AuditEventType.ESCALATED] = AuditEventType.ESCALATED
    request_id: str
    tier: int
    approvers: list[str]
    # The new tier's deadline, for the inbox's read model (read-model-fields-v1 on).
    deadline: datetime | None = None
    # Why the tier was entered before the last one's deadline (escalate-now-v1): e.g. no
    # present human can decide. Absent for an escalation by timeout.
    cause: str | None = None


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


class DeadlineFrozen(_Payload):
    """The halts (`halt_ids`) hold over the request's instance: its deadline is frozen
    with `remaining_seconds` left; no timeout is caused by a halt."""

    type: Literal[AuditEventType.DEADLINE_FROZEN] = AuditEventType.DEADLINE_FROZEN
    request_id: str
    halt_ids: list[str]
    deadline: datetime
    remaining_seconds: float


class DeadlineResumed(_Payload):
    """No halt holds any more (`halt_ids`: those that held it): the deadline
    runs again, moved by the time it was frozen, with `remaining_seconds` left."""

    type: Literal[AuditEventType.DEADLINE_RESUMED] = AuditEventType.DEADLINE_RESUMED
    request_id: str
    halt_ids: list[str]
    deadline: datetime
    remaining_seconds: float
    frozen_seconds: float


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


class StandingGrantGiven(_Payload):
    type: Literal[AuditEventType.STANDING_GRANT_GIVEN] = AuditEventType.STANDING_GRANT_GIVEN
    standing_id: str
    team: str
    workflow_id: str
    step_id: str
    action: str
    pattern: dict[str, dict[str, Any]]
    agent: str | None
    approver: str
    approver_role: str
    instance_id: str
    request_id: str
    materiality: Materiality
    given_at: datetime
    expires_at: datetime
    max_uses: int
    # Last: the key order the workflow sends is part of what replay compares.
    decision_id: str


class AllowedByStandingGrant(_Payload):
    type: Literal[AuditEventType.ALLOWED_BY_STANDING_GRANT] = (
        AuditEventType.ALLOWED_BY_STANDING_GRANT
    )
    step_id: str
    args_digest: str
    grant_id: str
    standing_id: str
    approver: str
    approver_role: str
    use: int
    max_uses: int
    expires_at: datetime


class AllowedByBreakGlass(_Payload):
    type: Literal[AuditEventType.ALLOWED_BY_BREAK_GLASS] = AuditEventType.ALLOWED_BY_BREAK_GLASS
    step_id: str
    args_digest: str
    grant_id: str
    break_glass_id: str
    # human -> the role they counted in, as the quorum that opened it stands.
    approvers: dict[str, str]
    expires_at: datetime
    # What the policy asked for: the human requirement passed.
    materiality: Materiality


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


ClosedStatus = Literal["TERMINATED", "TIMED_OUT", "CANCELED", "FAILED", "HISTORY_LOST"]


class ExecutionClosed(_Payload):
    """Recorded by the sink: an instance's execution closed without Gantral's end and seal.
    Who closed it is unknown; `temporal_identity` is what the Temporal client claimed."""

    type: Literal[AuditEventType.EXECUTION_CLOSED] = AuditEventType.EXECUTION_CLOSED
    instance_id: str
    # None when Temporal no longer has the history (status HISTORY_LOST).
    run_id: str | None
    status: ClosedStatus
    closed_at: _SinkAt | None
    detected_at: _SinkAt
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
    | DeadlineFrozen
    | DeadlineResumed
    | GrantIssued
    | GrantUsed
    | StandingGrantGiven
    | AllowedByStandingGrant
    | AllowedByBreakGlass
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


def parse_payload(type_: AuditEventType | str, payload: object) -> AuditPayload:
    """A recorded payload as the model of its type: any event an earlier release wrote
    parses (tests/unit/test_audit_payload_parsing.py). ValueError if it does not fit: an
    unknown type, a payload that is no object, a field missing or of another type. Each
    reader decides what such an event means to it (evidence fails closed, a projection
    skips it and says so)."""
    if not isinstance(payload, dict):
        raise ValueError(f"a {type_} payload is a JSON object, not {type(payload).__name__}")
    parsed: AuditPayload = _ADAPTER.validate_python({**payload, "type": type_})
    return parsed


def payload_schema() -> dict[str, Any]:
    """The JSON Schema of every event payload, keyed by `type`."""
    schema: dict[str, Any] = _ADAPTER.json_schema()
    schema["title"] = "Gantral audit event payloads"
    return schema

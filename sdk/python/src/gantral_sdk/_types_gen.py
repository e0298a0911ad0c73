"""Wire models of the Gantral API, generated from specs/openapi.json by
gantral/python_sdk_types.py. Do not edit: run `make sdk-types`; a test fails when this
file and the spec drift apart."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "Actor",
    "ActorKind",
    "AgentEventKind",
    "AgentEventResult",
    "ArgumentPattern",
    "AuditTrailView",
    "AuthorizeOutcome",
    "AuthorizeResult",
    "BatchDecisionItem",
    "BatchDecisionResult",
    "BatchItemError",
    "BatchItemOutcome",
    "BreakGlassApproval",
    "BreakGlassView",
    "ClosedOutside",
    "ClosedRequest",
    "Cost",
    "Decision",
    "DecisionResult",
    "DecisionType",
    "Delegation",
    "EventView",
    "ExemptionApproval",
    "Grant",
    "Halt",
    "HaltExemption",
    "HaltScope",
    "HumanRequest",
    "InboxItem",
    "InboxPage",
    "InstancePage",
    "InstanceSummary",
    "InstanceView",
    "LiftApproval",
    "Materiality",
    "MyDelegations",
    "ProblemView",
    "RequestStatus",
    "StandingGrant",
    "State",
    "TransitionRecord",
    "Verdict",
    "VerifyView",
]


class ActorKind(StrEnum):
    HUMAN = "human"
    AGENT = "agent"
    SYSTEM = "system"


class Actor(BaseModel):
    id: str = Field(min_length=1, max_length=256)
    kind: ActorKind
    owner: str | None = None
    roles: list[str] = Field(default_factory=list)


class AgentEventKind(StrEnum):
    STEP_STARTED = "STEP_STARTED"
    STEP_COMPLETED = "STEP_COMPLETED"
    STEP_FAILED = "STEP_FAILED"
    COST = "COST"


class Cost(BaseModel):
    """A cost report, or an instance's running total of them.

    Strict JSON numbers (a string such as "12" or "NaN" is refused, as are infinities),
    never negative, and bounded: a report, and the total it would make, is refused (422)
    past 2^53-1 tokens, 1e12 money (in the currency's major unit) or 1e9 seconds. Money in
    another currency than the instance total's, or than its team's budget, is refused:
    money is never converted, nor added across currencies.
    """

    currency: str = Field(default="USD", pattern="^[A-Z]{3}$")
    money: float = Field(default=0.0, ge=0.0, le=1000000000000.0)
    tokens: int = Field(default=0, ge=0, le=9007199254740991)
    wall_time_seconds: float = Field(default=0.0, ge=0.0, le=1000000000.0)


class State(StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    WAITING_FOR_HUMAN = "WAITING_FOR_HUMAN"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    OVERRIDDEN = "OVERRIDDEN"
    EXPIRED = "EXPIRED"
    RESUMED = "RESUMED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


class AgentEventResult(BaseModel):
    accepted: bool
    cost: Cost
    state: State


class ArgumentPattern(BaseModel):
    """One argument's constraint: exactly one of `equals`, `range`(`min`/`max`), `prefix`,
    `one_of`.
    """

    equals: bool | str | float | list[Any] | dict[str, Any] | None = None
    max: float | None = Field(default=None, ge=-9007199254740991, le=9007199254740991)
    min: float | None = Field(default=None, ge=-9007199254740991, le=9007199254740991)
    one_of: list[bool | str | float | list[Any] | dict[str, Any]] | None = None
    prefix: str | None = Field(default=None, min_length=1)


class EventView(BaseModel):
    actor: dict[str, Any]
    at: str
    body: str
    hash: str
    log_index: int = Field(ge=-9007199254740991, le=9007199254740991)
    payload: dict[str, Any]
    prev_hash: str
    seq: int = Field(ge=-9007199254740991, le=9007199254740991)
    snapshot: dict[str, Any] | None
    type: str


class AuditTrailView(BaseModel):
    bundle_keys: list[str]
    events: list[EventView]
    head: str | None
    instance_id: str
    refusals: str | None = None
    sealed: bool


class AuthorizeOutcome(StrEnum):
    ALLOW = "ALLOW"
    PENDING = "PENDING"
    NOT_READY = "NOT_READY"


class Grant(BaseModel):
    """Authority to run one step once, with exactly the arguments whose digest it carries."""

    args_digest: str
    arguments: dict[str, Any]
    expires_at: datetime
    grant_id: str
    holder: str | None = None
    request_id: str | None
    step_id: str


class Materiality(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    OVERRIDDEN = "OVERRIDDEN"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    CANCELLED = "CANCELLED"


class HumanRequest(BaseModel):
    action: str
    approvals: dict[str, str] = Field(default_factory=dict)
    args_digest: str
    arguments: dict[str, Any]
    context_delta: dict[str, Any] | None = None
    context_snapshot: dict[str, Any]
    context_snapshot_ref: str | None = None
    created_at: datetime
    deadline: datetime | None
    decided_by: str | None = None
    decided_on_behalf_of: str | None = None
    decided_via: str | None = None
    decision_id: str | None = None
    deputies: dict[str, str] = Field(default_factory=dict)
    excluded_approvers: list[str] = Field(default_factory=list)
    grant: Grant | None = None
    grant_holder: str | None = None
    materiality: Materiality
    quorum: str = ""
    request_id: str
    requested_by: str = ""
    required_approvers: list[str]
    resolved_at: datetime | None = None
    self_approval: bool = False
    separation_of_duties_waived_for: list[str] = Field(default_factory=list)
    sla_deadline: datetime | None = None
    status: RequestStatus = RequestStatus.PENDING
    step_id: str
    still_needed: list[str] = Field(default_factory=list)
    superseded_by: str | None = None
    superseded_why: str | None = None
    tier: int = Field(default=0, ge=-9007199254740991, le=9007199254740991)


class AuthorizeResult(BaseModel):
    args_digest: str
    break_glass_id: str | None = None
    explanation: list[str]
    grant: Grant | None = None
    materiality: Materiality | None
    outcome: AuthorizeOutcome
    reason: str | None = None
    request: HumanRequest | None = None
    retry_after: float | None = Field(default=None, ge=-9007199254740991, le=9007199254740991)
    standing_id: str | None = None
    step_id: str


class BatchDecisionItem(BaseModel):
    """One request of a batch, named as the human was shown it."""

    instance_id: str = Field(min_length=1, max_length=200, pattern="^[A-Za-z0-9_.:-]+$")
    request_id: str = Field(min_length=1, max_length=200)
    seen_args_digest: str = Field(min_length=1, max_length=200)


class BatchItemError(BaseModel):
    """A refused item's error: the body the decision would have answered alone."""

    details: dict[str, Any] | None = None
    error: str
    message: str
    reason: str


class DecisionType(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    OVERRIDE = "OVERRIDE"


class Decision(BaseModel):
    args_digest: str
    at: datetime
    channel: str = "api"
    channel_ref: str | None = None
    context_delta: dict[str, Any] | None = None
    context_snapshot: dict[str, Any] | None = None
    context_snapshot_ref: str | None = None
    decision_id: str
    decision_type: DecisionType
    delegation_id: str | None = None
    human_actor_id: str
    idempotency_key: str
    instance_id: str
    justification: str | None
    on_behalf_of: str | None = None
    request_id: str
    role: str


class StandingGrant(BaseModel):
    """A standing grant as recorded (`STANDING_GRANT_GIVEN`), stored and listed."""

    action: str
    agent: str | None
    approver: str
    approver_role: str
    expires_at: datetime
    given_at: datetime
    instance_id: str
    materiality: Materiality
    max_uses: int = Field(ge=-9007199254740991, le=9007199254740991)
    pattern: dict[str, ArgumentPattern]
    request_id: str
    revoke_reason: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    standing_id: str
    step_id: str
    team: str
    uses: int = Field(default=0, ge=-9007199254740991, le=9007199254740991)
    workflow_id: str


class DecisionResult(BaseModel):
    decision: Decision
    request: HumanRequest
    standing_grant: StandingGrant | None = None
    state: State


class BatchItemOutcome(BaseModel):
    """One request's outcome: decided (`result`), or refused (`error`), as alone."""

    error: BatchItemError | None = None
    instance_id: str
    request_id: str
    result: DecisionResult | None = None
    status: int = Field(ge=-9007199254740991, le=9007199254740991)


class BatchDecisionResult(BaseModel):
    """Every item's outcome, in the order sent. Answered 200 only when every item was
    decided; 207 when any was refused (`refused` > 0), so no refusal passes unseen.
    """

    decided: int = Field(ge=-9007199254740991, le=9007199254740991)
    items: list[BatchItemOutcome]
    refused: int = Field(ge=-9007199254740991, le=9007199254740991)


class BreakGlassApproval(BaseModel):
    """One human's approval: the role they counted in."""

    at: datetime
    human: str
    reason: str
    role: str


class HaltScope(BaseModel):
    """Exactly one of `team`, `agent`, `workflow` (with an optional `version`) or
    `deployment: true`.
    """

    agent: str | None = Field(
        default=None, min_length=1, max_length=256, pattern="^[A-Za-z0-9_.:@/-]+$"
    )
    deployment: bool | None = None
    team: str | None = Field(
        default=None, min_length=1, max_length=200, pattern="^[A-Za-z0-9_.:@/-]+$"
    )
    version: int | None = Field(default=None, ge=1, le=9007199254740991)
    workflow: str | None = Field(
        default=None, min_length=1, max_length=200, pattern="^[A-Za-z0-9_.:@/-]+$"
    )


class BreakGlassView(BaseModel):
    """A break-glass and where it stands now: gathering approvals, in effect, or ended."""

    active_from: datetime | None = None
    approvals: list[BreakGlassApproval] = Field(default_factory=list)
    break_glass_id: str
    expires_at: datetime | None = None
    opened_at: datetime
    opened_by: str
    reason: str
    scope: HaltScope
    status: str
    ttl_seconds: float = Field(ge=-9007199254740991, le=9007199254740991)


class ClosedOutside(BaseModel):
    """The instance's Temporal execution was closed around Gantral (`temporal workflow
    terminate`, a reset, a run timeout, a failed run): no governed end was recorded and
    the audit chain stays unsealed. Filled in by the API from Temporal, never by the
    workflow; who closed it cannot be known (the sink records it in the access log).
    """

    closed_at: datetime | None = None
    last_state: State
    run_id: str
    status: str


class ClosedRequest(BaseModel):
    """A request left undecidable: its instance's execution was closed outside Gantral."""

    closed_at: datetime | None
    instance_id: str
    owning_team_id: str | None
    reason: str
    request_id: str | None
    status: str
    workflow_id: str | None


class Delegation(BaseModel):
    """One delegation as stored and listed: who stands in for whom, with which roles,
    when, and (once ended early) who ended it.
    """

    created_at: datetime
    delegation_id: str
    delegator: str
    deputy: str
    ended_at: datetime | None = None
    ended_by: str | None = None
    ends_at: datetime
    reason: str | None = None
    roles: list[str]
    starts_at: datetime
    teams: list[str] | None = None


class ExemptionApproval(BaseModel):
    """One human's approval of an exemption where the deployment lifts halts by a
    quorum: the part (`scope`) and the role they counted in. The exemption takes effect
    with the approval that makes the quorum for that part.
    """

    at: datetime
    human: str
    reason: str
    role: str
    scope: HaltScope


class HaltExemption(BaseModel):
    """Staged recovery: a narrower scope inside a halt that runs again while the rest of
    the halt holds (one agent or workflow of a halted team, say). Its own act, audited.
    """

    at: datetime
    exempted_by: str
    reason: str
    scope: HaltScope


class LiftApproval(BaseModel):
    """One human's approval of a lift that needs a quorum (`GANTRAL_HALTS__LIFT`): the
    role they counted in. The lift takes effect with the approval that makes the quorum.
    """

    at: datetime
    human: str
    reason: str
    role: str


class Halt(BaseModel):
    """A halt as stored and listed: who raised it, when, why; and its lift, once lifted."""

    exemption_approvals: list[ExemptionApproval] = Field(default_factory=list)
    exemptions: list[HaltExemption] = Field(default_factory=list)
    halt_id: str
    lift_approvals: list[LiftApproval] = Field(default_factory=list)
    lift_by_another: bool = False
    lift_reason: str | None = None
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    raised_at: datetime
    raised_by: str
    reason: str
    scope: HaltScope


class InboxItem(BaseModel):
    """One open request, with what an approver needs to judge its urgency and act on it."""

    action: str
    approvals: int = Field(ge=-9007199254740991, le=9007199254740991)
    args_digest: str
    arguments: dict[str, Any]
    created_at: datetime
    deadline: datetime | None
    decidable_as: list[str]
    deputy_for: list[str] = Field(default_factory=list)
    instance_id: str
    materiality: Materiality
    owning_team_id: str | None
    quorum: str
    request_id: str
    required_approvers: list[str]
    sla_deadline: datetime | None
    step_id: str
    still_needed: list[str]
    workflow_id: str | None


class InboxPage(BaseModel):
    closed_outside: list[ClosedRequest] = Field(default_factory=list)
    items: list[InboxItem]
    next_page_token: str | None = None
    truncated: bool


class InstanceSummary(BaseModel):
    closed: bool
    closed_outside: str | None = None
    instance_id: str
    materiality: str | None
    owning_team_id: str | None
    started_at: datetime | None
    state: State | None
    summary: str | None
    workflow_id: str | None


class InstancePage(BaseModel):
    items: list[InstanceSummary]
    next_page_token: str | None


class TransitionRecord(BaseModel):
    actor: Actor
    at: datetime
    cause: str
    from_state: State
    request_id: str | None = None
    seq: int = Field(ge=-9007199254740991, le=9007199254740991)
    to_state: State


class InstanceView(BaseModel):
    """Everything the instance API shows. Readiness is not here: it is derived, never state."""

    audit_events: int = Field(default=0, ge=-9007199254740991, le=9007199254740991)
    audit_head: str | None = None
    closed_outside: ClosedOutside | None = None
    cost: Cost
    created_at: datetime
    decisions: list[Decision]
    instance_id: str
    owning_team_id: str
    pending_request: HumanRequest | None
    requests: list[HumanRequest]
    runnable: bool
    started_by: Actor
    state: State
    template_hash: str
    transitions: list[TransitionRecord]
    trigger_context: dict[str, Any]
    updated_at: datetime
    workflow_id: str
    workflow_version: int = Field(ge=-9007199254740991, le=9007199254740991)


class MyDelegations(BaseModel):
    given: Delegation | None
    received: list[Delegation]


class ProblemView(BaseModel):
    code: str
    instance_id: str | None = None
    message: str
    seq: int | None = Field(default=None, ge=-9007199254740991, le=9007199254740991)


class Verdict(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    INCONCLUSIVE = "INCONCLUSIVE"


class VerifyView(BaseModel):
    checkpoints: int = Field(ge=-9007199254740991, le=9007199254740991)
    events: int = Field(ge=-9007199254740991, le=9007199254740991)
    instance_id: str
    ok: bool
    problems: list[ProblemView]
    signatures_checked: bool
    verdict: Verdict

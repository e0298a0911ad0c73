"""One typed input and one typed result per workflow, update and query.

New fields always get defaults, so running instances keep decoding their history.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field

from gantral.attestation import Attestation
from gantral.domain.actors import Actor
from gantral.domain.digest import sha256_hex
from gantral.domain.records import (
    Cost,
    Decision,
    DecisionType,
    Grant,
    HumanRequest,
    TransitionRecord,
)
from gantral.domain.states import State
from gantral.policy.models import Materiality
from gantral.policy.plan import RequestPlan
from gantral.policy.templates import WorkflowTemplate

WORKFLOW_NAME = "GantralInstance"
# The refusal reason of a call that reached a run handing over to its next (retried).
CONTINUING = "continuing_as_new"


class StartInstance(BaseModel):
    instance_id: str
    template: WorkflowTemplate
    template_hash: str
    owning_team_id: str
    trigger_context: dict[str, Any] = Field(default_factory=dict)
    started_by: Actor
    idempotency_key: str | None = None
    audit_task_queue: str = "gantral-audit"
    # SHA-256 of the start request as the caller sent it: a repeated idempotency key
    # with another request is refused instead of answered with this instance.
    request_fingerprint: str | None = None
    attestation: Attestation | None = None
    # A run continues as new once its history holds this many events (or Temporal
    # suggests it); the state passes to the next run as one value (`carried`).
    continue_as_new_after: int = Field(default=10_000, ge=10)
    carried: Carried | None = None
    callback_url: str | None = None

    def attested_body(self) -> dict[str, Any]:
        """What the API signs of a start: everything, with the template by its digest."""
        body = self.model_dump(mode="json", exclude={"attestation", "template", "carried"})
        body["template_sha256"] = sha256_hex(self.template.model_dump(mode="json"))
        return body


class Carried(BaseModel):
    """An instance's state handed from one run to the next (continue-as-new)."""

    run: int
    state: State
    created_at: datetime
    updated_at: datetime
    transitions: list[TransitionRecord]
    requests: list[HumanRequest]
    plans: dict[str, RequestPlan]
    pending_id: str | None
    decisions: list[Decision]
    grants: list[Grant]
    used_grants: list[str]
    active_grants: list[str]
    started_steps: list[str]
    cost: Cost
    outcomes: dict[str, StoredOutcome]
    audit_count: int
    audit_head: str | None
    creator: str | None = None


class StartedAsk(BaseModel):
    """Sent with a start: the request's fingerprint, and this attempt's own id."""

    request_fingerprint: str | None
    attempt: str


class AuthorizeStep(BaseModel):
    step_id: str
    action: str = ""
    arguments: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    actor: Actor
    # Context paths removed by the API's data minimization before this was sent.
    redacted: list[str] = Field(default_factory=list)
    idempotency_key: str | None = None
    attestation: Attestation | None = None


class AuthorizeOutcome(StrEnum):
    ALLOW = "ALLOW"
    PENDING = "PENDING"
    # Not runnable now (capacity, rate, budget, fairness): derived by the API's readiness
    # gate, never by the workflow, never audited. Ask again after `retry_after` seconds.
    NOT_READY = "NOT_READY"


class AuthorizeResult(BaseModel):
    outcome: AuthorizeOutcome
    step_id: str
    args_digest: str
    # None only for NOT_READY: the policy was not evaluated.
    materiality: Materiality | None
    explanation: list[str]
    request: HumanRequest | None = None
    grant: Grant | None = None
    # NOT_READY only: which rule blocks (concurrency, rate_limit, budget, fairness,
    # counters_unavailable) and when to ask again.
    reason: str | None = None
    retry_after: float | None = None


class Decide(BaseModel):
    request_id: str
    decision_type: DecisionType
    actor: Actor
    # None: the workflow chooses, from the caller's roles, the one the quorum needs.
    role: str | None = None
    justification: str | None = None
    context_delta: dict[str, Any] | None = None
    idempotency_key: str
    # The digest of the arguments the approver was shown; a changed request makes it stale.
    seen_args_digest: str | None = None
    # Where the human decided (api, slack, jira, cli) and the channel's own reference
    # (a Slack message ts, a Jira issue key), recorded with the decision.
    channel: str = Field(default="api", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    channel_ref: str | None = Field(default=None, max_length=256)
    attestation: Attestation | None = None


class DecisionResult(BaseModel):
    decision: Decision
    request: HumanRequest
    state: State


class AgentEventKind(StrEnum):
    STEP_STARTED = "STEP_STARTED"
    STEP_COMPLETED = "STEP_COMPLETED"
    STEP_FAILED = "STEP_FAILED"
    COST = "COST"


class AgentEvent(BaseModel):
    kind: AgentEventKind
    step_id: str | None = None
    grant_id: str | None = None
    args_digest: str | None = None
    cost: Cost | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    actor: Actor
    idempotency_key: str | None = None
    attestation: Attestation | None = None


class AgentEventResult(BaseModel):
    accepted: bool
    state: State
    cost: Cost


class FinishKind(StrEnum):
    COMPLETE = "COMPLETE"
    FAIL = "FAIL"
    CANCEL = "CANCEL"


class Finish(BaseModel):
    kind: FinishKind
    reason: str | None = None
    actor: Actor
    idempotency_key: str | None = None
    attestation: Attestation | None = None


class ClosedOutside(BaseModel):
    """The instance's Temporal execution was closed around Gantral (`temporal workflow
    terminate`, a reset, a run timeout, a failed run): no governed end was recorded and
    the audit chain stays unsealed. Filled in by the API from Temporal, never by the
    workflow; who closed it cannot be known (the sink records it in the access log)."""

    # Temporal's close status: TERMINATED, TIMED_OUT, CANCELED or FAILED.
    status: str
    run_id: str
    closed_at: datetime | None = None
    # The state the instance had recorded when it was closed (e.g. WAITING_FOR_HUMAN).
    last_state: State


class InstanceView(BaseModel):
    """Everything the instance API shows. Readiness is not here: it is derived, never state."""

    instance_id: str
    workflow_id: str
    workflow_version: int
    template_hash: str
    owning_team_id: str
    trigger_context: dict[str, Any]
    started_by: Actor
    state: State
    created_at: datetime
    updated_at: datetime
    pending_request: HumanRequest | None
    requests: list[HumanRequest]
    decisions: list[Decision]
    transitions: list[TransitionRecord]
    cost: Cost
    audit_events: int = 0
    audit_head: str | None = None
    # Set when the execution was closed outside Gantral; `state` then reads TERMINATED and
    # no request is pending (none can be decided any more).
    closed_outside: ClosedOutside | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def runnable(self) -> bool:
        """Readiness (reference §3.4): derived on every read, never stored or audited."""
        return self.state is State.RUNNING and self.pending_request is None


class StoredOutcome(BaseModel):
    """What an idempotent call answered, kept so a retry (even after the instance closed)
    gets the first outcome and records nothing new."""

    fingerprint: str
    result: dict[str, Any] | None = None
    # The typed refusal of a handler that failed: (code, reason, message).
    error: tuple[str, str, str] | None = None


class Started(BaseModel):
    view: InstanceView
    created: bool


class Refusal(BaseModel):
    """An attempt that was refused; recorded so every refusal is attributable."""

    actor: Actor
    attempted: str
    reason: str
    message: str
    request_id: str | None = None
    instance_id: str | None = None
    attestation: Attestation | None = None


# Forward references (Carried is declared before the models it holds).
Carried.model_rebuild()
StartInstance.model_rebuild()

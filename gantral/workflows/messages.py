"""One typed input and one typed result per workflow, update and query.

New fields always get defaults, so running instances keep decoding their history.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field, model_validator

from gantral.attestation import Attestation
from gantral.domain.actors import Actor
from gantral.domain.delegation import Delegated
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
from gantral.errors import Reason
from gantral.governance.break_glass import BreakGlassUse
from gantral.governance.halts import HaltScope
from gantral.governance.standing import StandingAsk, StandingGrant, StandingUse
from gantral.policy.models import Materiality
from gantral.policy.plan import RequestPlan
from gantral.policy.templates import ShadowPin, WorkflowTemplate
from gantral.workflows.grants import GrantBook

WORKFLOW_NAME = "GantralInstance"
# The refusal reason of a call that reached a run handing over to its next (retried).
CONTINUING = Reason.CONTINUING_AS_NEW


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
    carried: InstanceData | None = None
    callback_url: str | None = None
    # Each step's shadow policy, pinned at start (`gantral.policy.shadow.pin_shadows`).
    # Left out when empty: starts without shadows attest and replay as before.
    shadows: dict[str, ShadowPin] = Field(default_factory=dict, exclude_if=lambda v: not v)

    def attested_body(self) -> dict[str, Any]:
        """What the API signs of a start: everything, with the template by its digest."""
        body = self.model_dump(mode="json", exclude={"attestation", "template", "carried"})
        body["template_sha256"] = sha256_hex(self.template.model_dump(mode="json"))
        return body


class AuditChain(BaseModel):
    """An audit chain as the sink stored it: how many events, and the last one's hash."""

    count: int = 0
    head: str | None = None


class FrozenDeadline(BaseModel):
    request_id: str
    since: datetime
    halt_ids: list[str] = Field(default_factory=list)


class HaltNotice(BaseModel):
    """A halt raised (or lifted) over a scope, sent by the API to every running instance
    the scope may cover: the instance decides whether it does (its team, workflow and
    version, its pending request's agent). While one holds, its pending request's
    deadline is frozen; Signals, so an instance learns of it even with its worker down."""

    halt_id: str
    scope: HaltScope
    lifted: bool = False
    # Staged recovery: the parts of the halt exempted so far; it holds over none of them.
    exemptions: list[HaltScope] = Field(default_factory=list, exclude_if=lambda v: not v)
    attestation: Attestation | None = None


class InstanceData(BaseModel):
    """Everything an instance knows, as one value: what `InstanceState` changes, what its
    view is derived from, and what continue-as-new hands to the next run whole."""

    run: int = 1
    state: State = State.CREATED
    created_at: datetime
    updated_at: datetime
    transitions: list[TransitionRecord] = Field(default_factory=list)
    requests: dict[str, HumanRequest] = Field(default_factory=dict)
    # What each request's pinned policy asks for (a continued run keeps the pending one's).
    plans: dict[str, RequestPlan] = Field(default_factory=dict)
    pending_id: str | None = None
    decisions: list[Decision] = Field(default_factory=list)
    grants: GrantBook = Field(default_factory=GrantBook)
    cost: Cost = Field(default_factory=Cost)
    # The first outcome of every keyed call, by scope (`idempotency.Outcomes`).
    outcomes: dict[str, StoredOutcome] = Field(default_factory=dict)
    # The chain stored before this run began; the run's own `AuditLog` continues it.
    audit: AuditChain = Field(default_factory=AuditChain)
    # The attempt that created the instance (the first `started` asker).
    creator: str | None = None
    # Counts and sums of earlier authorizations that history-aware rules read
    # (`gantral.policy.history`); kept only when a pinned policy reads them.
    history: dict[str, int | float] = Field(default_factory=dict, exclude_if=lambda v: not v)
    # Halts delivered to this instance (`HaltNotice`): those holding, by id (their scope),
    # and those lifted (a lift that arrives before its raise must not let it hold later).
    halts: dict[str, HaltScope] = Field(default_factory=dict, exclude_if=lambda v: not v)
    lifted_halts: list[str] = Field(default_factory=list, exclude_if=lambda v: not v)
    # The parts of those halts exempted (staged recovery), by halt id.
    halt_exemptions: dict[str, list[HaltScope]] = Field(
        default_factory=dict, exclude_if=lambda v: not v
    )
    # The pending request whose deadline a halt has frozen, and since when.
    frozen: FrozenDeadline | None = Field(default=None, exclude_if=lambda v: v is None)

    @model_validator(mode="before")
    @classmethod
    def _from_carried(cls, value: Any) -> Any:
        """Runs continued before `InstanceData` existed carry the earlier shape ("Carried":
        requests as a list, the grant book as parallel lists); they still start."""
        if isinstance(value, dict) and "used_grants" in value:
            return _from_carried(value)
        return value


def _from_carried(carried: dict[str, Any]) -> dict[str, Any]:
    def grant_id(grant: Any) -> str:
        return str(grant["grant_id"] if isinstance(grant, dict) else grant.grant_id)

    def request_id(request: Any) -> str:
        return str(request["request_id"] if isinstance(request, dict) else request.request_id)

    used, active = set(carried["used_grants"]), set(carried["active_grants"])
    data = {
        k: v
        for k, v in carried.items()
        if k not in {"grants", "used_grants", "active_grants", "started_steps", "requests",
                     "audit_count", "audit_head"}
    }  # fmt: skip
    data["requests"] = {request_id(r): r for r in carried["requests"]}
    data["grants"] = {
        "grants": {
            grant_id(g): {"grant": g, "active": grant_id(g) in active, "used": grant_id(g) in used}
            for g in carried["grants"]
        },
        "started_steps": list(carried["started_steps"]),
    }
    data["audit"] = {"count": carried["audit_count"], "head": carried["audit_head"]}
    return data


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
    # A standing grant the API matched and claimed a use of (a signed fact: replayable).
    standing: StandingUse | None = Field(default=None, exclude_if=lambda v: v is None)
    # A break-glass in effect over the call, as the API found it (a signed fact: replayable).
    break_glass: BreakGlassUse | None = Field(default=None, exclude_if=lambda v: v is None)
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
    # ALLOW without a human: the standing grant that served this call.
    standing_id: str | None = Field(default=None, exclude_if=lambda v: v is None)
    # ALLOW without a human: the break-glass that let this call through.
    break_glass_id: str | None = Field(default=None, exclude_if=lambda v: v is None)


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
    # APPROVE only: also give a standing grant for later calls inside this pattern.
    standing: StandingAsk | None = Field(default=None, exclude_if=lambda v: v is None)
    # A deputy deciding for a delegator: the delegation the API resolved, checked and
    # recorded by the workflow. Omitted when unset, so other decisions encode as before.
    on_behalf_of: Delegated | None = Field(default=None, exclude_if=lambda v: v is None)
    attestation: Attestation | None = None


class DecisionResult(BaseModel):
    decision: Decision
    request: HumanRequest
    state: State
    # The standing grant this APPROVE gave, if it asked for one.
    standing_grant: StandingGrant | None = Field(default=None, exclude_if=lambda v: v is None)


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


# Forward references (InstanceData is declared before the models it holds).
InstanceData.model_rebuild()
StartInstance.model_rebuild()

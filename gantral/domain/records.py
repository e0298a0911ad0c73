"""Immutable records an instance accumulates: transitions, requests, decisions, grants, cost."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gantral.domain.actors import Actor
from gantral.domain.limits import (
    CURRENCY_PATTERN,
    MAX_COST_MONEY,
    MAX_COST_SECONDS,
    MAX_COST_TOKENS,
)
from gantral.domain.materiality import Materiality
from gantral.domain.states import State


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class TransitionRecord(_Frozen):
    seq: int
    from_state: State
    to_state: State
    cause: str
    actor: Actor
    at: datetime
    request_id: str | None = None


class DecisionType(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    OVERRIDE = "OVERRIDE"


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    OVERRIDDEN = "OVERRIDDEN"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    CANCELLED = "CANCELLED"


class Decision(_Frozen):
    decision_id: str
    instance_id: str
    request_id: str
    decision_type: DecisionType
    human_actor_id: str
    role: str
    justification: str | None
    # The snapshot is stored once, with its request; decisions reference it. Older
    # decisions carried a copy, so the field stays readable.
    context_snapshot: dict[str, Any] | None = None
    context_snapshot_ref: str | None = None
    args_digest: str
    context_delta: dict[str, Any] | None = None
    idempotency_key: str
    at: datetime
    channel: str = "api"
    channel_ref: str | None = None
    # A deputy's decision: whom they stood in for, under which delegation (omitted
    # otherwise, so every other decision's audit payload is unchanged).
    on_behalf_of: str | None = Field(default=None, exclude_if=lambda v: v is None)
    delegation_id: str | None = Field(default=None, exclude_if=lambda v: v is None)


class Grant(_Frozen):
    """Authority to run one step once, with exactly the arguments whose digest it carries."""

    grant_id: str
    step_id: str
    request_id: str | None
    args_digest: str
    arguments: dict[str, Any]
    expires_at: datetime
    # The principal the grant is bound to: only it may start the step with this grant.
    holder: str | None = None


MCP_ELICITATION = "mcp-elicitation"
"""The channel of a decision the caller took in their own MCP client (self-approval)."""


class HumanRequest(BaseModel):
    request_id: str
    step_id: str
    action: str
    arguments: dict[str, Any]
    args_digest: str
    materiality: Materiality
    required_approvers: list[str]
    tier: int = 0
    deadline: datetime | None
    context_snapshot: dict[str, Any]
    context_snapshot_ref: str | None = None
    requested_by: str = ""
    status: RequestStatus = RequestStatus.PENDING
    # human id -> the role they approved in; each human counts once.
    approvals: dict[str, str] = Field(default_factory=dict)
    still_needed: list[str] = Field(default_factory=list)
    # "1 of 2 approvals; still needed: SECURITY_REVIEWER"
    quorum: str = ""
    # Separation of duties: these humans cannot decide this request.
    excluded_approvers: list[str] = Field(default_factory=list)
    # The policy opted out of separation of duties: whom it would have excluded (audited).
    separation_of_duties_waived_for: list[str] = Field(default_factory=list)
    # The policy lets the caller decide in their own MCP client (`self_approval`).
    self_approval: bool = False
    # The principal whose authorization opened this request (and its follow-ups): the
    # grant is issued to it, and only it may supersede the request.
    grant_holder: str | None = None
    grant: Grant | None = None
    context_delta: dict[str, Any] | None = None
    created_at: datetime
    # When the policy's SLA for this materiality expects a decision (informational).
    sla_deadline: datetime | None = None
    # Set once the outcome is durably audited and applied; long-polls wait for this.
    resolved_at: datetime | None = None
    # Who settled it, through which channel ("system" for a timeout), and the decision.
    decided_by: str | None = None
    decided_via: str | None = None
    decision_id: str | None = None
    # When a deputy settled it: the delegator they stood in for.
    decided_on_behalf_of: str | None = None
    # Approvals given by deputies: delegator (the key in `approvals`) -> deputy. Both
    # count as used in this quorum: neither may approve again.
    deputies: dict[str, str] = Field(default_factory=dict)
    # The request that replaced this one, and why: "reauthorized" (the agent asked again,
    # with other arguments), or an override's follow-up ("override needs more authority",
    # "second sign-off"), which an agent waiting on this request follows.
    superseded_by: str | None = None
    superseded_why: str | None = None


class Cost(BaseModel):
    """A cost report, or an instance's running total of them.

    Strict JSON numbers (a string such as "12" or "NaN" is refused, as are infinities),
    never negative, and bounded: a report, and the total it would make, is refused (422)
    past 2^53-1 tokens, 1e12 money (in the currency's major unit) or 1e9 seconds. Money in
    another currency than the instance total's, or than its team's budget, is refused:
    money is never converted, nor added across currencies."""

    model_config = ConfigDict(strict=True)

    # The bounds and the currency's form are checked where a report is admitted (the
    # API's request body, the workflow's validator: `gantral.domain.costs`), not when a
    # recorded one is decoded, so history recorded before them still replays; the schema
    # states them all the same.
    tokens: int = Field(default=0, ge=0, json_schema_extra={"maximum": MAX_COST_TOKENS})
    money: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, json_schema_extra={"maximum": MAX_COST_MONEY}
    )
    # ISO 4217, exactly as written there ("USD", never "usd"). A total keeps the currency
    # of its first money; money in another currency is refused, never converted or added.
    currency: str = Field(default="USD", json_schema_extra={"pattern": CURRENCY_PATTERN})
    wall_time_seconds: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, json_schema_extra={"maximum": MAX_COST_SECONDS}
    )

"""Request bodies of the HTTP API. Responses reuse the core's typed results."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gantral.domain.records import Cost, DecisionType
from gantral.workflows.messages import AgentEventKind

_ID = r"^[A-Za-z0-9_.:-]+$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartInstanceRequest(_Body):
    workflow_id: str = Field(min_length=1, max_length=200, pattern=_ID)
    workflow_version: int | None = Field(default=None, ge=1)
    owning_team_id: str = Field(min_length=1, max_length=200, pattern=_ID)
    trigger_context: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class AuthorizeRequest(_Body):
    action: str = Field(default="", max_length=200)
    arguments: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)


class DecisionRequest(_Body):
    request_id: str = Field(min_length=1, max_length=200)
    decision_type: DecisionType
    role: str | None = Field(
        default=None, description="The role acted in; default: the caller's first role"
    )
    justification: str | None = Field(default=None, max_length=10_000)
    context_delta: dict[str, Any] | None = None
    idempotency_key: str = Field(min_length=1, max_length=200)
    seen_args_digest: str | None = None


class EventRequest(_Body):
    kind: AgentEventKind
    step_id: str | None = Field(default=None, max_length=200)
    grant_id: str | None = None
    args_digest: str | None = None
    cost: Cost | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class FinishRequest(_Body):
    reason: str | None = Field(default=None, max_length=2_000)


class Health(BaseModel):
    status: str

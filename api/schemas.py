"""Request bodies of the HTTP API. Responses reuse the core's typed results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gantral.domain.limits import fields_problem
from gantral.domain.records import Cost, DecisionType
from gantral.workflows.messages import AgentEventKind

_ID = r"^[A-Za-z0-9_.:-]+$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator(
        "trigger_context", "arguments", "context", "context_delta", "detail", check_fields=False
    )
    @classmethod
    def _free_json_within_limits(cls, value: Any) -> Any:
        # I-JSON, depth and size per field: what the workflow and the audit sink accept.
        problem = fields_problem({"value": value})
        if problem is not None:
            raise ValueError(f"{problem[1].removeprefix('value')} ({problem[0]})".strip())
        return value


# Optional on agent calls; the SDKs send one by default. Scoped to the caller and the call:
# a retry with the same key and body gets the first outcome; another body gets 409.
_KEY = Field(default=None, min_length=1, max_length=200)


class StartInstanceRequest(_Body):
    workflow_id: str = Field(min_length=1, max_length=200, pattern=_ID)
    workflow_version: int | None = Field(default=None, ge=1)
    owning_team_id: str = Field(min_length=1, max_length=200, pattern=_ID)
    trigger_context: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)
    # Where Gantral delivers a signed webhook when a request of this instance resolves
    # (hosted and serverless agents); https only, and only to allowed URL prefixes.
    callback_url: str | None = Field(default=None, max_length=2000, pattern=r"^https://[^\s]+$")


class AuthorizeRequest(_Body):
    action: str = Field(default="", max_length=200)
    arguments: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = _KEY


class DecisionRequest(_Body):
    request_id: str = Field(min_length=1, max_length=200)
    decision_type: DecisionType
    role: str | None = Field(
        default=None, description="The role acted in; default: the caller's first role"
    )
    justification: str | None = Field(default=None, max_length=10_000)
    context_delta: dict[str, Any] | None = None
    idempotency_key: str = Field(min_length=1, max_length=200)
    seen_args_digest: str | None = Field(default=None, max_length=200)
    # The tool the human decided in, when it talks to this API (Slack and Jira decide
    # through their own signed endpoints).
    channel: Literal["api", "cli"] = "api"


class EventRequest(_Body):
    kind: AgentEventKind
    step_id: str | None = Field(default=None, max_length=200)
    grant_id: str | None = Field(default=None, max_length=200)
    args_digest: str | None = Field(default=None, max_length=200)
    cost: Cost | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = _KEY


class FinishRequest(_Body):
    reason: str | None = Field(default=None, max_length=2_000)
    idempotency_key: str | None = _KEY


class Health(BaseModel):
    status: str

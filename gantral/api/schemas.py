"""Request bodies of the HTTP API. Responses reuse the core's typed results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from gantral.domain.callback_url import (
    CALLBACK_CONTEXT_KEY,
    CALLBACK_URL_PATTERN,
    callback_url_problem,
)
from gantral.domain.costs import cost_problem
from gantral.domain.limits import MAX_JUSTIFICATION_CHARS, fields_problem
from gantral.domain.records import Cost, DecisionType
from gantral.governance.standing import StandingAsk
from gantral.workflows.messages import AgentEventKind

_ID = r"^[A-Za-z0-9_.:-]+$"


class CostInput(Cost):
    """What a step cost, as an agent reports it: these fields only (another one is 422,
    never silently dropped)."""

    model_config = ConfigDict(extra="forbid")


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
    # (hosted and serverless agents), only to allowed URL prefixes.
    callback_url: str | None = Field(
        default=None,
        max_length=2000,
        description="https:// (http:// only to a loopback address or localhost), no user"
        " or password; the same rule applies to trigger_context['gantral:callback_url'].",
        json_schema_extra={"pattern": CALLBACK_URL_PATTERN},
    )

    @field_validator("callback_url")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        problem = None if value is None else callback_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("trigger_context")
    @classmethod
    def _context_callback_url(cls, value: dict[str, Any]) -> dict[str, Any]:
        # The older way to name it: held to the same rule as `callback_url`.
        if CALLBACK_CONTEXT_KEY in value:
            problem = callback_url_problem(value[CALLBACK_CONTEXT_KEY])
            if problem is not None:
                raise ValueError(f"{CALLBACK_CONTEXT_KEY} {problem}")
        return value


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
    justification: str | None = Field(default=None, max_length=MAX_JUSTIFICATION_CHARS)
    context_delta: dict[str, Any] | None = None
    idempotency_key: str = Field(min_length=1, max_length=200)
    # A human decides on exactly what they were shown: no digest, no decision.
    seen_args_digest: str = Field(
        min_length=1,
        max_length=200,
        description="The `args_digest` of the request as shown to the human; a request"
        " whose arguments changed since is refused as stale (409 `stale`).",
    )
    # The tool the human decided in, when it talks to this API (Slack and Jira decide
    # through their own signed endpoints).
    # `mcp-elicitation`: the MCP gateway, for a caller deciding in their own client.
    channel: Literal["api", "cli", "mcp-elicitation"] = "api"
    standing: StandingAsk | None = Field(
        default=None,
        description="APPROVE only: also give a standing grant, a pattern that only narrows"
        " this request's arguments, for `ttl` and `max_uses` (bounded by the step's policy)",
    )
    on_behalf_of: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="A deputy decides for this human, under their delegation in effect now"
        " (`PUT /v1/delegations/me`), with the roles delegated to them",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _digest_said_how(
        cls, data: Any, handler: ModelWrapValidatorHandler[DecisionRequest]
    ) -> DecisionRequest:
        # Pydantic's "Field required" would not say where the digest comes from.
        try:
            return handler(data)
        except ValidationError as exc:
            errors = [_digest_hint(e) if _about_digest(e) else e for e in exc.errors()]
            raise ValidationError.from_exception_data(exc.title, errors) from None  # type: ignore[arg-type]


def _about_digest(error: Any) -> bool:
    missing = error["type"] == "missing" or error["input"] is None
    return bool(error["loc"] == ("seen_args_digest",) and missing)


def _digest_hint(error: Any) -> InitErrorDetails:
    message = (
        "required: read the request (GET /v1/instances/INSTANCE/requests/REQUEST) and send"
        " the args_digest of what the human was shown"
    )
    return InitErrorDetails(
        type=PydanticCustomError("missing", message), loc=error["loc"], input=error["input"]
    )


# The most requests one batch decides: enough to clear an inbox page, few enough that the
# answer (every request in full) stays small and the batch ends well within a client timeout.
MAX_BATCH_DECISIONS = 50


class BatchDecisionItem(_Body):
    """One request of a batch, named as the human was shown it."""

    instance_id: str = Field(min_length=1, max_length=200, pattern=_ID)
    request_id: str = Field(min_length=1, max_length=200)
    seen_args_digest: str = Field(
        min_length=1,
        max_length=200,
        description="The `args_digest` of this request as shown to the human; a request"
        " whose arguments changed since is refused as stale, alone.",
    )


class BatchDecisionRequest(_Body):
    """One decision for several requests, each decided exactly as if decided alone."""

    # OVERRIDE edits one request's arguments: never in bulk.
    decision_type: Literal[DecisionType.APPROVE, DecisionType.REJECT]
    items: list[BatchDecisionItem] = Field(
        min_length=1,
        # Declared; checked by the decision path so that the error names its reason.
        json_schema_extra={"maxItems": MAX_BATCH_DECISIONS},
        description=f"At most {MAX_BATCH_DECISIONS} requests (more: 422 `batch_too_large`),"
        " each named once (else 409 `duplicate_in_batch`); nothing is decided then.",
    )
    role: str | None = Field(
        default=None, description="The role acted in; default: per request, the one it needs"
    )
    justification: str | None = Field(default=None, max_length=MAX_JUSTIFICATION_CHARS)
    idempotency_key: str = Field(
        min_length=1,
        max_length=200,
        description="Scoped to the caller and to each request decided: the same batch sent"
        " again answers the same outcomes; the key reused with a changed item refuses that"
        " item (409 `idempotency_key_reused`).",
    )
    channel: Literal["api", "cli"] = "api"


class EventRequest(_Body):
    kind: AgentEventKind
    step_id: str | None = Field(default=None, max_length=200)
    grant_id: str | None = Field(default=None, max_length=200)
    args_digest: str | None = Field(default=None, max_length=200)
    cost: CostInput | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = _KEY

    @field_validator("cost")
    @classmethod
    def _cost_within_bounds(cls, value: Cost | None) -> Cost | None:
        # The report's own bounds and currency, before the workflow checks the total.
        problem = cost_problem(Cost(), value) if value is not None else None
        if problem is not None:
            raise ValueError(f"{problem[1]} ({problem[0]})")
        return value


class FinishRequest(_Body):
    reason: str | None = Field(default=None, max_length=2_000)
    idempotency_key: str | None = _KEY


class Health(BaseModel):
    status: str

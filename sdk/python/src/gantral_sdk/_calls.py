"""Every API call as data: method, path, body and the model its answer decodes to.

The sync and async clients only execute these, so both speak exactly the same protocol.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, RootModel

from gantral_sdk._errors import APIError, error_from_body, error_from_response
from gantral_sdk._types_gen import (
    AgentEventKind,
    AgentEventResult,
    AuditTrailView,
    AuthorizeResult,
    BatchDecisionItem,
    BatchDecisionResult,
    BreakGlassView,
    Cost,
    DecisionResult,
    DecisionType,
    Delegation,
    Halt,
    HaltScope,
    HumanRequest,
    InboxItem,
    InboxPage,
    InstancePage,
    InstanceView,
    MyDelegations,
    StandingGrant,
    State,
    VerifyView,
)

M = TypeVar("M", bound=BaseModel)

MAX_SERVER_WAIT = 60.0
"""The longest long-poll the API accepts (`?wait=`), in seconds."""
_WAIT_SLACK = 10.0


@dataclass(frozen=True)
class Call(Generic[M]):
    method: str
    path: str
    model: type[M]
    json: dict[str, Any] | None = None
    params: dict[str, str | int | float] = field(default_factory=dict)
    # Per-call read timeout, for long polls that outlast the client's default.
    timeout: float | None = None

    @property
    def retry_safe(self) -> bool:
        """Reads, and writes carrying an idempotency key, may be resent after a transport
        error: the server answers a resend with the first outcome."""
        return self.method == "GET" or bool(self.json and "idempotency_key" in self.json)

    def decode(self, response: httpx.Response) -> M:
        if not response.is_success:
            raise error_from_response(response)
        return self.model.model_validate(response.json())


# How often a retry-safe call is resent after a transport error (lost response, reset).
RESENDS = 2


def _seg(value: str) -> str:
    return quote(value, safe="")


def _instance(instance_id: str, *rest: str) -> str:
    return "/".join(["/v1/instances", _seg(instance_id), *rest])


def start_instance(
    workflow_id: str,
    owning_team_id: str,
    trigger_context: dict[str, Any] | None,
    workflow_version: int | None,
    idempotency_key: str | None,
    callback_url: str | None = None,
) -> Call[InstanceView]:
    body: dict[str, Any] = {
        "workflow_id": workflow_id,
        "owning_team_id": owning_team_id,
        "trigger_context": trigger_context or {},
    }
    if workflow_version is not None:
        body["workflow_version"] = workflow_version
    if callback_url is not None:
        body["callback_url"] = callback_url
    # A fresh key unless the caller chose one: a resend after a lost response finds the
    # instance it started instead of starting a second one.
    body["idempotency_key"] = idempotency_key or _key()
    return Call("POST", "/v1/instances", InstanceView, json=body)


def get_instance(instance_id: str) -> Call[InstanceView]:
    return Call("GET", _instance(instance_id), InstanceView)


def list_instances(
    state: State | str | None,
    team: str | None,
    workflow: str | None,
    page_size: int,
    page_token: str | None,
) -> Call[InstancePage]:
    params: dict[str, str | int | float] = {"page_size": page_size}
    for name, value in (("state", state), ("team", team), ("workflow", workflow)):
        if value is not None:
            params[name] = str(value)
    if page_token:
        params["page_token"] = page_token
    return Call("GET", "/v1/instances", InstancePage, params=params)


def authorize(
    instance_id: str,
    step_id: str,
    action: str,
    arguments: dict[str, Any],
    context: dict[str, Any] | None,
    idempotency_key: str | None = None,
) -> Call[AuthorizeResult]:
    body = {
        "action": action,
        "arguments": arguments,
        "context": context or {},
        "idempotency_key": idempotency_key or _key(),
    }
    return Call("POST", _instance(instance_id, "steps", _seg(step_id), "authorize"),
                AuthorizeResult, json=body)  # fmt: skip


def get_request(instance_id: str, request_id: str, wait: float) -> Call[HumanRequest]:
    wait = min(max(wait, 0.0), MAX_SERVER_WAIT)
    params: dict[str, str | int | float] = {"wait": wait} if wait else {}
    return Call("GET", _instance(instance_id, "requests", _seg(request_id)), HumanRequest,
                params=params, timeout=wait + _WAIT_SLACK if wait else None)  # fmt: skip


Shown = HumanRequest | InboxItem
"""A request as a human was shown it: the `HumanRequest` read from the API (a governed
step's `on_pending`, `get_request`, `wait_for_decision`) or an item of the inbox."""


def shown(request: Shown | str, seen_args_digest: str | None) -> tuple[str, str]:
    """(request id, digest the human saw) of a decision; never read from the server now,
    which would bind the decision to arguments nobody was shown."""
    if isinstance(request, str):
        if not seen_args_digest:
            raise TypeError(
                "decide() by request id needs seen_args_digest=: the args_digest of the "
                "request as the human was shown it (or pass the request object itself)"
            )
        return request, seen_args_digest
    if seen_args_digest is not None and seen_args_digest != request.args_digest:
        raise ValueError(
            f"seen_args_digest {seen_args_digest} is not the digest of the request passed"
            f" ({request.args_digest}): pass one or the other"
        )
    return request.request_id, request.args_digest


def decide(
    instance_id: str,
    request_id: str,
    seen_args_digest: str,
    decision_type: DecisionType | str,
    role: str | None,
    justification: str | None,
    context_delta: dict[str, Any] | None,
    idempotency_key: str | None,
    channel: str | None = None,
    standing: dict[str, Any] | None = None,
    on_behalf_of: str | None = None,
) -> Call[DecisionResult]:
    body: dict[str, Any] = {
        "request_id": request_id,
        "seen_args_digest": seen_args_digest,
        "decision_type": str(DecisionType(decision_type)),
        # A fresh key per call; pass your own to make retries of one decision safe.
        "idempotency_key": idempotency_key or _key(),
    }
    optional = {
        "role": role,
        "justification": justification,
        "context_delta": context_delta,
        "channel": channel,
        "standing": standing,
        "on_behalf_of": on_behalf_of,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return Call("POST", _instance(instance_id, "decisions"), DecisionResult, json=body)


BatchShown = InboxItem | BatchDecisionItem | tuple[str, Shown]
"""A request of a batch as the human was shown it: an inbox item (it names its instance),
(instance id, a `HumanRequest` or inbox item), or a `BatchDecisionItem` with the digest."""


def batch_item(shown_item: BatchShown) -> BatchDecisionItem:
    if isinstance(shown_item, BatchDecisionItem):
        return shown_item
    if isinstance(shown_item, tuple):
        instance_id, request = shown_item
    else:
        instance_id, request = shown_item.instance_id, shown_item
    return BatchDecisionItem(
        instance_id=instance_id,
        request_id=request.request_id,
        seen_args_digest=request.args_digest,
    )


def decide_batch(
    items: list[BatchDecisionItem],
    decision_type: DecisionType | str,
    role: str | None,
    justification: str | None,
    idempotency_key: str | None,
    channel: str | None = None,
) -> Call[BatchDecisionResult]:
    body: dict[str, Any] = {
        "decision_type": str(DecisionType(decision_type)),
        "items": [i.model_dump(mode="json") for i in items],
        "idempotency_key": idempotency_key or _key(),
    }
    optional = {"role": role, "justification": justification, "channel": channel}
    body.update({k: v for k, v in optional.items() if v is not None})
    return Call("POST", "/v1/decisions:batch", BatchDecisionResult, json=body)


def batch_refusals(result: BatchDecisionResult) -> list[APIError]:
    """Each refused item of a batch decision as the typed error it would have raised alone
    (`Conflict` with reason `stale`, `Forbidden` ...); its `details` name the request."""
    refused = []
    for item in result.items:
        if item.error is not None:
            body = item.error.model_dump(mode="json", exclude_none=True)
            error = error_from_body(item.status, body)
            error.details.update(instance_id=item.instance_id, request_id=item.request_id)
            refused.append(error)
    return refused


def delegate(
    deputy: str,
    ends_at: datetime,
    roles: list[str] | None,
    starts_at: datetime | None,
    reason: str | None,
) -> Call[Delegation]:
    body: dict[str, Any] = {"deputy": deputy, "ends_at": _aware(ends_at).isoformat()}
    if roles is not None:
        body["roles"] = roles
    if starts_at is not None:
        body["starts_at"] = _aware(starts_at).isoformat()
    if reason is not None:
        body["reason"] = reason
    return Call("PUT", "/v1/delegations/me", Delegation, json=body)


def my_delegations() -> Call[MyDelegations]:
    return Call("GET", "/v1/delegations/me", MyDelegations)


def end_delegation() -> Call[Delegation]:
    return Call("DELETE", "/v1/delegations/me", Delegation)


def _aware(at: datetime) -> datetime:
    """The server takes only times with an offset: a naive one is refused here, clearly."""
    if at.tzinfo is None:
        raise ValueError("a delegation's times need a timezone (e.g. datetime.now(UTC))")
    return at


def report(
    instance_id: str,
    kind: AgentEventKind | str,
    step_id: str | None = None,
    grant_id: str | None = None,
    args_digest: str | None = None,
    cost: Cost | None = None,
    detail: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Call[AgentEventResult]:
    body: dict[str, Any] = {
        "kind": str(AgentEventKind(kind)),
        "detail": detail or {},
        "idempotency_key": idempotency_key or _key(),
    }
    optional = {"step_id": step_id, "grant_id": grant_id, "args_digest": args_digest}
    body.update({k: v for k, v in optional.items() if v is not None})
    if cost is not None:
        body["cost"] = cost.model_dump(mode="json")
    return Call("POST", _instance(instance_id, "events"), AgentEventResult, json=body)


def finish(
    instance_id: str, verb: str, reason: str | None, idempotency_key: str | None = None
) -> Call[InstanceView]:
    body: dict[str, Any] = {"idempotency_key": idempotency_key or _key()}
    if reason is not None:
        body["reason"] = reason
    return Call("POST", _instance(instance_id, verb), InstanceView, json=body)


def _key() -> str:
    """A fresh idempotency key per call: a resend of the same call (after a lost
    response) gets the first outcome and records nothing new (`Call.retry_safe`)."""
    return f"sdk-{uuid.uuid4().hex}"


def list_requests(
    pending_for_me: bool, team: str | None, limit: int, page_token: str | None
) -> Call[InboxPage]:
    params: dict[str, str | int | float] = {"limit": limit}
    if pending_for_me:
        params["pending_for"] = "me"
    if team:
        params["team"] = team
    if page_token:
        params["page_token"] = page_token
    return Call("GET", "/v1/requests", InboxPage, params=params)


class StandingGrants(RootModel[list[StandingGrant]]):
    """A list of standing grants, oldest first."""


def list_standing_grants(team: str | None, usable_only: bool) -> Call[StandingGrants]:
    params: dict[str, str | int | float] = {"usable_only": "true" if usable_only else "false"}
    if team is not None:
        params["team"] = team
    return Call("GET", "/v1/standing-grants", StandingGrants, params=params)


def revoke_standing_grant(standing_id: str, reason: str) -> Call[StandingGrant]:
    path = f"/v1/standing-grants/{_seg(standing_id)}:revoke"
    return Call("POST", path, StandingGrant, json={"reason": reason})


class Halts(RootModel[list[Halt]]):
    """A list of halts, oldest first."""


Scope = HaltScope | dict[str, Any]
"""What a halt covers: exactly one of `{"team": T}`, `{"agent": A}`,
`{"workflow": W, "version": V}` (version optional) or `{"deployment": True}`."""


def _scope(scope: Scope) -> dict[str, Any]:
    if isinstance(scope, HaltScope):
        return scope.model_dump(mode="json", exclude_none=True)
    return dict(scope)


def raise_halt(scope: Scope, reason: str, lift_by_another: bool) -> Call[Halt]:
    body: dict[str, Any] = {"scope": _scope(scope), "reason": reason}
    if lift_by_another:
        body["lift_by_another"] = True
    return Call("POST", "/v1/halts", Halt, json=body)


def list_halts(include_lifted: bool) -> Call[Halts]:
    params: dict[str, str | int | float] = {"include_lifted": "true"} if include_lifted else {}
    return Call("GET", "/v1/halts", Halts, params=params)


def get_halt(halt_id: str) -> Call[Halt]:
    return Call("GET", f"/v1/halts/{_seg(halt_id)}", Halt)


def lift_halt(halt_id: str, reason: str) -> Call[Halt]:
    return Call("POST", f"/v1/halts/{_seg(halt_id)}:lift", Halt, json={"reason": reason})


def exempt_from_halt(halt_id: str, scope: Scope, reason: str) -> Call[Halt]:
    body = {"scope": _scope(scope), "reason": reason}
    return Call("POST", f"/v1/halts/{_seg(halt_id)}:exempt", Halt, json=body)


class BreakGlasses(RootModel[list[BreakGlassView]]):
    """A list of break-glasses, oldest first."""


def open_break_glass(scope: Scope, ttl: str | float, reason: str) -> Call[BreakGlassView]:
    body = {"scope": _scope(scope), "ttl": ttl, "reason": reason}
    return Call("POST", "/v1/break-glass", BreakGlassView, json=body)


def approve_break_glass(break_glass_id: str, reason: str) -> Call[BreakGlassView]:
    path = f"/v1/break-glass/{_seg(break_glass_id)}:approve"
    return Call("POST", path, BreakGlassView, json={"reason": reason})


def list_break_glass(include_ended: bool) -> Call[BreakGlasses]:
    params: dict[str, str | int | float] = {"include_ended": "true"} if include_ended else {}
    return Call("GET", "/v1/break-glass", BreakGlasses, params=params)


def get_audit(instance_id: str) -> Call[AuditTrailView]:
    return Call("GET", f"/v1/audit/instances/{_seg(instance_id)}", AuditTrailView)


def verify_audit(instance_id: str) -> Call[VerifyView]:
    return Call("GET", f"/v1/audit/instances/{_seg(instance_id)}/verify", VerifyView)

"""A scripted fake of the Gantral API for the SDK's unit tests (httpx.MockTransport)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gantral.domain.digest import args_digest
from gantral.domain.records import Grant, HumanRequest, RequestStatus
from gantral.policy.models import Materiality

NOW = datetime(2026, 1, 1, tzinfo=UTC)
IID = "inst-1"
ARGS: dict[str, Any] = {"service": "billing", "version": "2.4.1"}


def grant(step: str = "deploy", action: str = "deploy.run", **kw: Any) -> Grant:
    arguments = kw.pop("arguments", ARGS)
    fields: dict[str, Any] = {
        "grant_id": "grant_1",
        "step_id": step,
        "request_id": None,
        "args_digest": args_digest(action, arguments),
        "arguments": arguments,
        "expires_at": NOW + timedelta(minutes=5),
    }
    return Grant(**{**fields, **kw})


def request(status: RequestStatus = RequestStatus.PENDING, **kw: Any) -> HumanRequest:
    fields: dict[str, Any] = {
        "request_id": "req_1",
        "step_id": "deploy",
        "action": "deploy.run",
        "arguments": ARGS,
        "args_digest": args_digest("deploy.run", ARGS),
        "materiality": Materiality.HIGH,
        "required_approvers": ["TECH_LEAD"],
        "deadline": None,
        "context_snapshot": {},
        "status": status,
        "created_at": NOW,
    }
    return HumanRequest(**{**fields, **kw})


def authorize_result(
    outcome: str, *, req: HumanRequest | None = None, g: Grant | None = None, digest: str = ""
) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "step_id": "deploy",
        "args_digest": digest or args_digest("deploy.run", ARGS),
        "materiality": "HIGH",
        "explanation": [],
        "request": req.model_dump(mode="json") if req else None,
        "grant": g.model_dump(mode="json") if g else None,
    }


EVENT_OK = {"accepted": True, "state": "RUNNING", "cost": {}}


class FakeAPI:
    """Answers each (method, path suffix) from a queue of scripted responses; records calls."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[httpx.Response]] = {}
        self.calls: list[httpx.Request] = []

    def on(self, method: str, suffix: str, *responses: httpx.Response | dict[str, Any]) -> None:
        queue = self.routes.setdefault((method, suffix), [])
        for r in responses:
            queue.append(r if isinstance(r, httpx.Response) else httpx.Response(200, json=r))

    def handler(self, req: httpx.Request) -> httpx.Response:
        self.calls.append(req)
        for (method, suffix), queue in self.routes.items():
            if req.method == method and req.url.path.endswith(suffix) and queue:
                scripted = queue.pop(0) if len(queue) > 1 else queue[0]
                # A fresh response each time: a response's stream is read only once.
                return httpx.Response(
                    scripted.status_code, headers=scripted.headers, content=scripted.content
                )
        return httpx.Response(404, json={"error": "not_found", "reason": "no_route", "message": ""})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def bodies(self, suffix: str) -> list[dict[str, Any]]:
        return [json.loads(c.content) for c in self.calls if c.url.path.endswith(suffix)]

    def events(self) -> list[str]:
        return [b["kind"] for b in self.bodies("/events")]

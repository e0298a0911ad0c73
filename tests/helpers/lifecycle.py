"""Driving one instance of the `deploy` template through the API as an agent and its
humans do: start, authorize a step, decide (on what the decider was shown), read the
sealed audit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.helpers.auth import AGENT, AUDITOR, LEAD

ARGS = {"service": "billing", "version": "2.4.1"}


async def start(api: httpx.AsyncClient, workflow: str = "deploy", **extra: Any) -> dict[str, Any]:
    body = {"workflow_id": workflow, "owning_team_id": "payments", **extra}
    resp = await api.post("/v1/instances", json=body, headers=AGENT)
    assert resp.status_code in (200, 201), resp.text
    return dict(resp.json())


async def authorize(
    api: httpx.AsyncClient, iid: str, step: str = "deploy", args: dict[str, Any] = ARGS
) -> dict[str, Any]:
    resp = await api.post(
        f"/v1/instances/{iid}/steps/{step}/authorize",
        json={"action": f"{step}.run", "arguments": args, "context": {"env": "production"}},
        headers=AGENT,
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def decide(
    api: httpx.AsyncClient, iid: str, request_id: str, kind: str, who: dict[str, str], **extra: Any
) -> httpx.Response:
    """Decide as a human does: on the request as read now (`seen_args_digest=` to decide
    on what was read earlier)."""
    if "seen_args_digest" not in extra:
        extra["seen_args_digest"] = await _shown(api, iid, request_id, who)
    body = {
        "request_id": request_id,
        "decision_type": kind,
        "idempotency_key": extra.pop("key", uuid.uuid4().hex),
        **extra,
    }
    return await api.post(f"/v1/instances/{iid}/decisions", json=body, headers=who)


async def _shown(api: httpx.AsyncClient, iid: str, request_id: str, who: dict[str, str]) -> str:
    # Read as the decider, else as a lead of the team (a decider who may not read still
    # gets its decision's own answer); an unknown request shows nothing.
    for reader in (who, LEAD):
        shown = await api.get(f"/v1/instances/{iid}/requests/{request_id}", headers=reader)
        if shown.status_code == 200:
            return str(shown.json()["args_digest"])
    return "sha256:never-shown"


async def sealed_audit(api: httpx.AsyncClient, iid: str) -> list[dict[str, Any]]:
    """The instance's stored audit events, once the seal event has been stored."""
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200 and resp.json()["sealed"]:
            return list(resp.json()["events"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"instance {iid} was not sealed in time")

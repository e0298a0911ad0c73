"""Policies and workflows published per test (ids of their own), and an instance of them
driven through the API: the governance tests' and the replay scenarios' vocabulary."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers.auth import ADMIN, AGENT, bearer
from tests.helpers.polling import long_poll

CFO = bearer("carl", ["CFO", "approver"])

LEAD_SUPERVISOR = bearer("lena", ["TECH_LEAD", "approver", "supervisor"])


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def put(api: httpx.AsyncClient, path: str, yaml_text: str) -> dict[str, Any]:
    resp = await api.put(
        path, content=yaml_text, headers={**ADMIN, "Content-Type": "application/yaml"}
    )
    assert resp.status_code in (200, 201), resp.text
    return dict(resp.json())


async def workflow_with(api: httpx.AsyncClient, policy_id: str, step: str = "act") -> str:
    wid = uid("wf")
    await put(
        api,
        f"/v1/workflows/{wid}",
        f"id: {wid}\nsteps:\n  - id: {step}\n    policy_ref: {{id: {policy_id}}}\n",
    )
    return wid


async def start(api: httpx.AsyncClient, wid: str) -> str:
    body = {"workflow_id": wid, "owning_team_id": "payments"}
    resp = await api.post("/v1/instances", json=body, headers=AGENT)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["instance_id"])


async def authorize(
    api: httpx.AsyncClient, iid: str, args: dict[str, Any], step: str = "act"
) -> dict[str, Any]:
    resp = await api.post(
        f"/v1/instances/{iid}/steps/{step}/authorize",
        json={"action": "pay", "arguments": args, "context": {"environment": "production"}},
        headers=AGENT,
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def outcome(api: httpx.AsyncClient, iid: str, rid: str, wait: int = 20) -> dict[str, Any]:
    """Long-poll as a client does: the server holds each poll at most 8 s, so ask again
    while the request is PENDING, until `wait` seconds have passed."""
    return await long_poll(api, f"/v1/instances/{iid}/requests/{rid}", AGENT, wait)


async def start_step(
    api: httpx.AsyncClient, iid: str, grant_id: str, digest: str, step: str = "act"
) -> httpx.Response:
    body = {"kind": "STEP_STARTED", "step_id": step, "grant_id": grant_id, "args_digest": digest}
    return await api.post(f"/v1/instances/{iid}/events", json=body, headers=AGENT)

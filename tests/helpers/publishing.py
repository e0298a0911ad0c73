"""Publishing a one-step workflow with its own policy through the API, for tests."""

from __future__ import annotations

import httpx

from tests.helpers.auth import ADMIN

__all__ = ["publish_one_step"]


async def publish_one_step(api: httpx.AsyncClient, workflow_id: str, policy: str) -> None:
    """Workflow `workflow_id` with one step `act` governed by `policy` (YAML)."""
    yaml = {"Content-Type": "application/yaml", **ADMIN}
    pid = f"{workflow_id}-policy"
    resp = await api.put(f"/v1/policies/{pid}", content=policy, headers=yaml)
    assert resp.status_code in (200, 201), resp.text
    template = f"id: {workflow_id}\nsteps:\n  - id: act\n    policy_ref: {{id: {pid}}}\n"
    resp = await api.put(f"/v1/workflows/{workflow_id}", content=template, headers=yaml)
    assert resp.status_code in (200, 201), resp.text

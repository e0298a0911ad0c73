"""Instances waiting for a human, opened through the API, for the inbox tests."""

from __future__ import annotations

import asyncio
import contextlib

import httpx


def approval_policy(materiality: str, timeout: str | None, role: str = "TECH_LEAD") -> str:
    """A policy needing one `role`, with a first-tier `timeout` (a deadline) when given."""
    text = f"materiality: {materiality}\nrequires_human_approval: true\n"
    text += f"approvers: [{{role: {role}}}]\n"
    if timeout:
        text += f"timeouts: {{primary: {timeout}}}\n"
    return text


async def open_request(
    api: httpx.AsyncClient,
    workflow: str,
    team: str,
    who: dict[str, str],
    gate: asyncio.Semaphore | None = None,
) -> str:
    """A new instance of `workflow` (one step `act`) whose step waits for a human; its id.
    `gate` bounds how many are opened at once."""
    async with gate if gate is not None else contextlib.nullcontext():
        body = {"workflow_id": workflow, "owning_team_id": team}
        resp = await api.post("/v1/instances", json=body, headers=who)
        assert resp.status_code == 201, resp.text
        iid = str(resp.json()["instance_id"])
        resp = await api.post(
            f"/v1/instances/{iid}/steps/act/authorize",
            json={"action": "act", "arguments": {"n": 1}},
            headers=who,
        )
        assert resp.json()["outcome"] == "PENDING", resp.text
        return iid

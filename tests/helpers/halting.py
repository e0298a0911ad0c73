"""Halts on the real stack: a team of its own, a workflow, starting, authorizing and
raising halts, shared by the halt, break-glass and deadline tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers.auth import bearer
from tests.helpers.governance import put


class Team:
    """A team of its own per test, so a halt on it touches no other test."""

    def __init__(self) -> None:
        self.name = f"ht-{uuid.uuid4().hex[:8]}"
        self.agent = bearer(f"bot-{self.name}", teams=[self.name], agent=True)
        self.lead = bearer(f"lead-{self.name}", ["TECH_LEAD", "approver"], teams=[self.name])
        self.operator = bearer(f"op-{self.name}", ["operator"], teams=[self.name])


async def workflow(api: httpx.AsyncClient, policy: str) -> str:
    pid = f"pol-{uuid.uuid4().hex[:8]}"
    await put(api, f"/v1/policies/{pid}", policy)
    wid = f"wf-{uuid.uuid4().hex[:8]}"
    template = f"id: {wid}\nsteps:\n  - id: act\n    policy_ref: {{id: {pid}}}\n"
    await put(api, f"/v1/workflows/{wid}", template)
    return wid


async def start(api: httpx.AsyncClient, wid: str, team: Team) -> httpx.Response:
    body = {"workflow_id": wid, "owning_team_id": team.name}
    return await api.post("/v1/instances", json=body, headers=team.agent)


async def authorize(api: httpx.AsyncClient, iid: str, team: Team) -> httpx.Response:
    body = {"action": "pay", "arguments": {"amount": 5}}
    return await api.post(f"/v1/instances/{iid}/steps/act/authorize", json=body, headers=team.agent)


async def step_started(
    api: httpx.AsyncClient, iid: str, grant: dict[str, Any], team: Team
) -> httpx.Response:
    body = {
        "kind": "STEP_STARTED",
        "step_id": "act",
        "grant_id": grant["grant_id"],
        "args_digest": grant["args_digest"],
    }
    return await api.post(f"/v1/instances/{iid}/events", json=body, headers=team.agent)


async def raise_halt(
    api: httpx.AsyncClient, scope: dict[str, Any], who: dict[str, str], reason: str = "INC-42"
) -> httpx.Response:
    return await api.post("/v1/halts", json={"scope": scope, "reason": reason}, headers=who)


def assert_halted(resp: httpx.Response, halt_id: str, reason: str = "INC-42") -> None:
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["reason"] == "halted", body
    assert (body["details"]["halt_id"], body["details"]["halt_reason"]) == (halt_id, reason)

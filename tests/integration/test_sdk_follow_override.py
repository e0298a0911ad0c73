"""An override that needs more authority does not end the agent's step: the SDK follows
the edit to its new approvers and runs exactly what they approved."""

from __future__ import annotations

import asyncio
from typing import Any

import gantral_sdk as sdk
import httpx
import pytest

from tests.helpers.auth import AGENT, MANAGER, bearer, token
from tests.helpers.lifecycle import decide

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_the_agent_waits_for_the_higher_approver_of_an_override(
    api: httpx.AsyncClient,
) -> None:
    client = sdk.AsyncGantralClient(http=api, auth=sdk.BearerToken(token("agent-7", agent=True)))
    instance = await client.start_instance("pay-escalating", "payments")
    iid = instance.instance_id
    ran: list[dict[str, Any]] = []

    async def agent() -> None:
        async with client.governed_step(
            iid, "pay", action="pay", arguments={"amount": 50}, wait=30
        ) as step:
            ran.append(step.arguments)

    running = asyncio.create_task(agent())
    pending: dict[str, Any] | None = None
    for _ in range(100):
        view = (await api.get(f"/v1/instances/{iid}", headers=AGENT)).json()
        pending = view["pending_request"]
        if pending:
            break
        await asyncio.sleep(0.05)
    assert pending is not None
    edit = {"justification": "pay the full invoice", "context_delta": {"amount": 50_000}}
    overridden = await decide(api, iid, pending["request_id"], "OVERRIDE", MANAGER, **edit)
    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["request"]["status"] == "SUPERSEDED"
    follow_up = overridden.json()["request"]["superseded_by"]
    cfo = bearer("carla", ["CFO", "approver"])
    approved = await decide(api, iid, follow_up, "APPROVE", cfo)
    assert approved.status_code == 200, approved.text
    await asyncio.wait_for(running, 30)
    assert ran == [{"amount": 50_000}]  # exactly the edit the CFO approved

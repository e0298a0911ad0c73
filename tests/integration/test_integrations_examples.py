"""The runnable examples in examples/integrations/ on the real stack, decided by a tech
lead: what a reader copies must work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.helpers.examples import deploy_workflow, load
from tests.helpers.integrations_support import (
    agent_client,
    alice_client,
    alongside,
    decide_next,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
RELEASE = {"service": "billing", "version": "2.4.1"}


async def test_the_langgraph_example(api: httpx.AsyncClient) -> None:
    example = load("langgraph_deploy")
    wid = await deploy_workflow(api)
    async with agent_client(api) as agent, alice_client(api) as alice:
        override = asyncio.create_task(
            decide_next(
                alice, wid, "OVERRIDE", justification="canary", context_delta={"version": "2.4.0"}
            )
        )
        replies = await alongside(override, example.run(agent, wid, "payments"))
        item, _ = await override
    assert item.arguments == RELEASE
    assert [(r.name, r.content) for r in replies] == [
        ("plan_release", "plan for billing 2.4.1: drain, roll, verify"),
        ("deploy", "deployed billing 2.4.0"),
    ]
    assert replies[1].artifact["gantral"]["actor"] == "alice"


async def test_the_openai_agents_example(api: httpx.AsyncClient) -> None:
    example = load("openai_agents_deploy")
    wid = await deploy_workflow(api)
    async with agent_client(api) as agent, alice_client(api) as alice:
        approval = asyncio.create_task(decide_next(alice, wid, "APPROVE"))
        output, decided = await alongside(approval, example.run(agent, wid, "payments"))
        await approval
    assert output == "released"
    assert decided.outcome == "APPROVED" and decided.arguments == RELEASE

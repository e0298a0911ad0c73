"""The runnable examples in examples/integrations/ on the real stack, decided by a tech
lead: what a reader copies must work."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import yaml

from tests.integration.auth import ADMIN
from tests.integration.integrations_support import agent_client, alice_client, decide_next

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "integrations"
TEMPLATE = Path(__file__).parent / "templates" / "deploy.yaml"
RELEASE = {"service": "billing", "version": "2.4.1"}


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def deploy_workflow(api: httpx.AsyncClient) -> str:
    """The examples' deploy-service shape (a free `plan`, a TECH_LEAD `deploy`), under an
    id of this test's own."""
    wid = f"deploy-{uuid.uuid4().hex[:8]}"
    template = yaml.safe_load(TEMPLATE.read_text()) | {"id": wid}
    headers = {"Content-Type": "application/yaml", **ADMIN}
    resp = await api.put(f"/v1/workflows/{wid}", content=yaml.safe_dump(template), headers=headers)
    assert resp.status_code in (200, 201), resp.text
    return wid


async def test_the_langgraph_example(api: httpx.AsyncClient) -> None:
    example = load("langgraph_deploy")
    wid = await deploy_workflow(api)
    async with agent_client(api) as agent, alice_client(api) as alice:
        override = asyncio.create_task(
            decide_next(
                alice, wid, "OVERRIDE", justification="canary", context_delta={"version": "2.4.0"}
            )
        )
        replies = await example.run(agent, wid, "payments")
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
        output, decided = await example.run(agent, wid, "payments")
        await approval
    assert output == "released"
    assert decided.outcome == "APPROVED" and decided.arguments == RELEASE

"""`gantral mcp-proxy --config proxy.yaml` as a user runs it: a process speaking MCP over
stdio to the SDK's client, spawning the real upstream server itself, and asking the API
on a real port."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from mcp import Client, StdioServerParameters

from tests.integration.auth import token
from tests.integration.integrations_support import (
    AGENT_ID,
    alice_client,
    decide_next,
    publish_tools_workflow,
)
from tests.integration.serving import served_api
from tests.integration.test_integrations_mcp import Bank, text

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

__all__ = ["served_api"]  # the API on a real port, served from the workers' event loop

GANTRAL = Path(sys.executable).parent / "gantral"


async def test_the_command_governs_a_stdio_server(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    bank = Bank(tmp_path)
    wid = await publish_tools_workflow(api)
    config = {
        "gantral": {"url": served_api, "token_env": "GANTRAL_TOKEN"},
        "workflow": wid,
        "team": "payments",
        "wait": 60,
        "upstream": {
            "command": bank.params.command,
            "args": bank.params.args,
            "env": bank.params.env,
        },
        "tools": {"lookup": "lookup", "transfer": {"step": "transfer", "action": "pay"}},
    }
    path = tmp_path / "proxy.yaml"
    path.write_text(yaml.safe_dump(config))
    proxy = StdioServerParameters(
        command=str(GANTRAL),
        args=["mcp-proxy", "--config", str(path)],
        env={"GANTRAL_TOKEN": token(AGENT_ID, agent=True)},
    )
    async with alice_client(api) as alice, Client(proxy, cache=None) as client:
        listed = await client.list_tools()
        approval = asyncio.create_task(
            decide_next(alice, wid, "OVERRIDE", justification="less", context_delta={"amount": 9})
        )
        result = await client.call_tool("transfer", {"account": "acme", "amount": 90})
        await approval
    assert {t.name for t in listed.tools} == {"lookup", "transfer", "close_account"}
    assert text(result) == "sent 9 to acme"
    assert bank.calls() == [{"tool": "transfer", "arguments": {"account": "acme", "amount": 9}}]

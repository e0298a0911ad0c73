"""`gantral mcp-proxy --config proxy.yaml` as a user runs it: a process speaking MCP over
stdio to the SDK's client, spawning the real upstream server itself, and asking the API
on a real port."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import gantral_sdk as sdk
import httpx
import pytest
import yaml
from mcp import Client, StdioServerParameters

from tests.helpers.auth import token
from tests.helpers.integrations_support import (
    AGENT_ID,
    alice_client,
    decide_next,
    publish_tools_workflow,
)
from tests.helpers.mcp_bank import Bank, text
from tests.helpers.serving import served_api

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


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ({"transport": "http"}, "serve.auth is required over http"),
        ({"transport": "http", "anonymous": True, "host": "0.0.0.0"}, "loopback host only"),
    ],
)
async def test_http_without_auth_is_refused(
    tmp_path: Path, serve: dict[str, object], message: str
) -> None:
    """Streamable HTTP that authenticates nobody would let whoever reaches the port act as
    the gateway: the command refuses to start it."""
    config = {
        "gantral": {"url": "http://127.0.0.1:9", "token_env": "GANTRAL_TOKEN"},
        "workflow": "w",
        "team": "payments",
        "upstream": {"command": "true"},
        "serve": serve,
    }
    path = tmp_path / "proxy.yaml"
    path.write_text(yaml.safe_dump(config))
    run = await asyncio.create_subprocess_exec(
        str(GANTRAL), "mcp-proxy", "--config", str(path),
        env={"GANTRAL_TOKEN": "x"}, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 2
    assert message in " ".join(stderr.decode().split())


async def test_pending_calls_are_cancelled_when_the_gateway_stops(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A pending call can be picked up only from this gateway process: when it stops
    (here: its stdio client leaves), the call's request must not linger in inboxes."""
    bank = Bank(tmp_path)
    wid = await publish_tools_workflow(api)
    config = {
        "gantral": {"url": served_api, "token_env": "GANTRAL_TOKEN"},
        "workflow": wid,
        "team": "payments",
        "upstream": {
            "command": bank.params.command,
            "args": bank.params.args,
            "env": bank.params.env,
        },
        "tools": {"transfer": {"step": "transfer", "action": "pay"}},
        "hold": {"patience": 0.5},
    }
    path = tmp_path / "proxy.yaml"
    path.write_text(yaml.safe_dump(config))
    proxy = StdioServerParameters(
        command=str(GANTRAL),
        args=["mcp-proxy", "--config", str(path)],
        env={"GANTRAL_TOKEN": token(AGENT_ID, agent=True)},
    )
    async with Client(proxy, cache=None) as client:
        pending = await client.call_tool("transfer", {"account": "acme", "amount": 5})
    assert pending.is_error and pending.meta is not None
    iid = pending.meta["gantral/decision"]["instance_id"]
    async with alice_client(api) as alice, asyncio.timeout(20):
        while (view := await alice.get_instance(iid)).state is not sdk.State.TERMINATED:
            await asyncio.sleep(0.1)
    assert view.requests[0].status is sdk.RequestStatus.CANCELLED
    assert "stopping" in view.transitions[-1].cause and bank.calls() == []

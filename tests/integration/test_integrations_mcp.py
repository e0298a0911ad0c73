"""`gantral mcp-proxy` on the real stack: the SDK's own MCP client calls tools of a real
MCP server (a subprocess over stdio, written with the `mcp` SDK, recording its calls)
through the proxy, while a tech lead decides from their inbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import gantral_sdk as sdk
import httpx
import pytest
from mcp import Client

from gantral.devstack.process import free_port
from gantral.integrations import Guard, ToolRoute
from gantral.integrations.mcp_proxy import DECISION_META, build_proxy, serve_http
from tests.helpers.auth import token
from tests.helpers.integrations_support import (
    agent_client,
    alice_client,
    decide_next,
    publish_tools_workflow,
)
from tests.helpers.mcp_bank import Bank, text

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@asynccontextmanager
async def proxied(
    api: httpx.AsyncClient, tmp: Path, wait: float = 60
) -> AsyncIterator[tuple[Client, Client, Bank, str, sdk.AsyncGantralClient]]:
    """(client through the proxy, direct upstream client, bank, workflow id, approver)."""
    bank = Bank(tmp)
    wid = await publish_tools_workflow(api)
    routes = {"lookup": ToolRoute("lookup"), "transfer": ToolRoute("transfer", action="pay")}
    async with (
        agent_client(api) as agent,
        alice_client(api) as alice,
        Client(bank.params, cache=None) as upstream,
    ):
        proxy = build_proxy(Guard(agent, wid, "payments", routes, wait=wait), upstream)
        async with Client(proxy, cache=None) as client:
            yield client, upstream, bank, wid, alice


async def test_tools_are_listed_unchanged(api: httpx.AsyncClient, tmp_path: Path) -> None:
    async with proxied(api, tmp_path) as (client, upstream, _, _, _):
        through = await client.list_tools()
        direct = await upstream.list_tools()
    assert [t.model_dump() for t in through.tools] == [t.model_dump() for t in direct.tools]
    assert {t.name for t in through.tools} == {"lookup", "transfer", "close_account"}


async def test_approved_call_runs_once_with_the_approved_arguments(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    async with proxied(api, tmp_path) as (client, _, bank, wid, alice):
        # A step without a policy runs at once, still governed (granted and audited).
        looked = await client.call_tool("lookup", {"account": "acme"})
        assert text(looked) == "acme: balance 1200" and not looked.is_error
        assert looked.meta is not None and looked.meta[DECISION_META]["outcome"] == "ALLOW"

        approval = asyncio.create_task(decide_next(alice, wid, "APPROVE"))
        result = await client.call_tool("transfer", {"account": "acme", "amount": 200})
        item, decision = await approval

    assert not result.is_error and text(result) == "sent 200 to acme"
    assert bank.calls() == [
        {"tool": "lookup", "arguments": {"account": "acme"}},
        {"tool": "transfer", "arguments": {"account": "acme", "amount": 200}},
    ]
    assert item.action == "pay" and item.arguments == {"account": "acme", "amount": 200}
    assert result.meta is not None
    decided = result.meta[DECISION_META]
    assert decided["outcome"] == "APPROVED" and decided["actor"] == "alice"
    assert decided["decision_id"] == decision.decision.decision_id
    assert decided["args_digest"] == sdk.args_digest("pay", {"account": "acme", "amount": 200})


async def test_override_runs_the_edited_arguments_after_the_policy_rechecked_them(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    async with proxied(api, tmp_path) as (client, _, bank, wid, alice):
        edit = asyncio.create_task(
            decide_next(
                alice, wid, "OVERRIDE", justification="cap it", context_delta={"amount": 150}
            )
        )
        result = await client.call_tool("transfer", {"account": "acme", "amount": 900})
        await edit
        assert text(result) == "sent 150 to acme"
        assert result.meta is not None and result.meta[DECISION_META]["outcome"] == "OVERRIDDEN"

        # An edit past the tech lead's authority (HIGH needs a CFO) is not theirs to grant:
        # it goes to a CFO, and the call waits for them; it runs once the CFO approves.
        async def escalate_then_cfo() -> None:
            await decide_next(
                alice, wid, "OVERRIDE", justification="x", context_delta={"amount": 5000}
            )
            auth = sdk.BearerToken(token("cara", ["CFO", "approver"]))
            async with sdk.AsyncGantralClient(http=api, auth=auth) as cfo:
                await decide_next(cfo, wid, "APPROVE")

        raise_it = asyncio.create_task(escalate_then_cfo())
        raised = await client.call_tool("transfer", {"account": "acme", "amount": 900})
        await raise_it

    assert bank.calls() == [
        {"tool": "transfer", "arguments": {"account": "acme", "amount": 150}},
        {"tool": "transfer", "arguments": {"account": "acme", "amount": 5000}},
    ]
    assert text(raised) == "sent 5000 to acme"


async def test_rejected_and_ungoverned_calls_never_reach_the_server(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    async with proxied(api, tmp_path) as (client, _, bank, wid, alice):
        rejection = asyncio.create_task(
            decide_next(alice, wid, "REJECT", justification="freeze week")
        )
        result = await client.call_tool("transfer", {"account": "acme", "amount": 200})
        item, _ = await rejection
        closing = await client.call_tool("close_account", {"account": "acme"})
        view = await alice.get_instance(item.instance_id)

    assert result.is_error
    assert text(result) == (
        "Gantral: tool 'transfer' was REJECTED by alice: freeze week; "
        f"the call was not made (request {item.request_id})."
    )
    assert result.meta is not None and result.meta[DECISION_META] == {"reason": "rejected"}
    assert closing.is_error and "not governed" in text(closing)
    assert bank.calls() == []
    assert view.state is sdk.State.TERMINATED


async def test_no_decision_in_time_is_a_tool_error_and_the_instance_is_closed(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    async with proxied(api, tmp_path, wait=1) as (client, _, bank, wid, alice):
        result = await client.call_tool("transfer", {"account": "acme", "amount": 200})
        instances = await alice.list_instances(workflow=wid)
    assert result.is_error and "no decision on tool 'transfer' in time" in text(result)
    assert bank.calls() == []
    assert [i.state for i in instances.items] == [sdk.State.TERMINATED]


async def test_streamable_http(api: httpx.AsyncClient, tmp_path: Path) -> None:
    """The same proxy served over streamable HTTP, to a client that connects by URL."""
    bank = Bank(tmp_path)
    wid = await publish_tools_workflow(api)
    port = free_port()
    async with (
        agent_client(api) as agent,
        alice_client(api) as alice,
        Client(bank.params, cache=None) as upstream,
    ):
        proxy = build_proxy(Guard(agent, wid, "payments", {"transfer": "transfer"}), upstream)
        serving = asyncio.create_task(serve_http(proxy, "127.0.0.1", port, "/mcp"))
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            async with asyncio.timeout(20):
                while True:  # until uvicorn listens
                    try:
                        async with httpx.AsyncClient() as probe:
                            await probe.get(url)
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
            async with Client(url, cache=None) as client:
                listed = await client.list_tools()
                approval = asyncio.create_task(decide_next(alice, wid, "APPROVE"))
                result = await client.call_tool("transfer", {"account": "zeta", "amount": 7})
                await approval
        finally:
            serving.cancel()
    assert {t.name for t in listed.tools} == {"lookup", "transfer", "close_account"}
    assert text(result) == "sent 7 to zeta"
    assert bank.calls() == [{"tool": "transfer", "arguments": {"account": "zeta", "amount": 7}}]

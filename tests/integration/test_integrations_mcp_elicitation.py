"""Elicitation as a channel: the caller approves or rejects their own held call in their
MCP client (the official `mcp` client over streamable HTTP, with an elicitation
callback), where the policy allows self-approval; recorded as a decision of channel
`mcp-elicitation` by the caller, through the same decision path as any channel."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import gantral_sdk as sdk
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from pydantic import AnyHttpUrl

from gantral.devstack.process import free_port
from gantral.integrations import Guard, ToolRoute
from gantral.integrations.mcp_elicit import ELICITATION_META
from gantral.integrations.mcp_proxy import DECISION_META, GatewayAuth, build_proxy, serve_http
from gantral.settings.identity import IdentitySettings
from tests.helpers.auth import ADMIN, GATEWAY_RESOURCE, ISSUER, token
from tests.helpers.integrations_support import alice_client, next_request
from tests.helpers.mcp_bank import Bank
from tests.helpers.mcp_gateway import (
    gateway_agent,
    listening,
    sealed_trail,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# `pay` lets its caller approve in their client; `close` keeps separation of duties.
TEMPLATE = """\
id: {wid}
steps:
  - id: pay
    policy:
      materiality: MEDIUM
      requires_human_approval: true
      approvers: [{{role: TECH_LEAD}}]
      separation_of_duties: false
      self_approval: allowed
  - id: close
    policy:
      materiality: MEDIUM
      requires_human_approval: true
      approvers: [{{role: TECH_LEAD}}]
"""
ROUTES = {"transfer": ToolRoute("pay", action="pay"), "close_account": ToolRoute("close")}
BOB = ["TECH_LEAD", "approver"]
Elicit = Callable[[Any, types.ElicitRequestParams], Any]


@asynccontextmanager
async def gateway(
    api: httpx.AsyncClient, tmp: Path, identity: IdentitySettings
) -> AsyncIterator[tuple[str, Bank, str, sdk.AsyncGantralClient]]:
    bank = Bank(tmp)
    wid = f"elicit-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": "application/yaml", **ADMIN}
    put = await api.put(f"/v1/workflows/{wid}", content=TEMPLATE.format(wid=wid), headers=headers)
    assert put.status_code in (200, 201), put.text
    port = free_port()
    auth = GatewayAuth(
        resource=AnyHttpUrl(GATEWAY_RESOURCE), issuer=ISSUER, jwks_url=identity.jwks_url
    )
    async with (
        gateway_agent(api) as gantral,
        alice_client(api) as alice,
        Client(bank.params, cache=None) as upstream,
    ):
        guarded = Guard(gantral, wid, "payments", ROUTES, wait=60)
        proxy = build_proxy(guarded, upstream)
        serving = asyncio.create_task(serve_http(proxy, "127.0.0.1", port, "/mcp", auth=auth))
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            await listening(url)
            yield url, bank, wid, alice
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)


def client(url: str, user: str, elicit: Elicit | None, mode: str = "auto") -> Client:
    """The official client as `user`, declaring elicitation support when given a callback.
    `auto` speaks MCP 2026-07-28 (elicitation in the call's result, answered on retry);
    `legacy` the handshake era (elicitation sent during the call)."""
    bearer = token(user, BOB, audience=GATEWAY_RESOURCE)
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {bearer}"})
    transport = streamable_http_client(url, http_client=http)
    return Client(transport, cache=None, elicitation_callback=elicit, mode=mode)


MODES = pytest.mark.parametrize("mode", ["auto", "legacy"])


class Human:
    """The person at the client: answers each elicitation as told, and remembers it."""

    def __init__(self, action: str, content: dict[str, Any] | None = None) -> None:
        self.action, self.content = action, content
        self.asked: list[str] = []
        self.before: Callable[[], Any] | None = None

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> Any:
        assert isinstance(params, types.ElicitRequestFormParams)
        self.asked.append(params.message)
        if self.before is not None:
            await self.before()
        return types.ElicitResult(action=self.action, content=self.content)  # type: ignore[arg-type]


async def only_instance(alice: sdk.AsyncGantralClient, wid: str) -> sdk.InstanceView:
    (listed,) = (await alice.list_instances(workflow=wid)).items
    return await alice.get_instance(listed.instance_id)


@MODES
async def test_the_caller_approves_in_their_client(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path, mode: str
) -> None:
    bob = Human("accept", {"justification": "my own small transfer"})
    async with gateway(api, tmp_path, dev_issuer) as (url, bank, wid, alice):
        async with client(url, "bob", bob, mode) as mcp:
            result = await mcp.call_tool("transfer", {"account": "acme", "amount": 5})
        view = await only_instance(alice, wid)
        auditor = sdk.BearerToken(token("audrey", ["auditor"], teams=()))
        async with sdk.AsyncGantralClient(http=api, auth=auditor) as audrey:
            trail = await sealed_trail(audrey, view.instance_id)
    assert not result.is_error, result.meta
    assert bank.calls() == [{"tool": "transfer", "arguments": {"account": "acme", "amount": 5}}]
    (request,) = view.requests
    (decision,) = view.decisions
    assert decision.channel == "mcp-elicitation" and decision.human_actor_id == "bob"
    assert decision.decision_type is sdk.DecisionType.APPROVE
    assert decision.args_digest == request.args_digest
    assert decision.justification == "my own small transfer"
    # What bob was shown names the request and the digest his answer is bound to.
    (shown,) = bob.asked
    assert request.request_id in shown and request.args_digest in shown and "transfer" in shown
    decided = [e for e in trail.events if e.type == "DECISION_RECORDED"]
    assert decided and decided[0].actor["id"] == "bob" and decided[0].actor["kind"] == "human"
    assert decided[0].payload["channel"] == "mcp-elicitation"
    assert result.meta is not None
    assert result.meta[DECISION_META]["actor"] == "bob"
    assert result.meta[ELICITATION_META] == {"offered": True, "answer": "accept", "recorded": True}


@MODES
async def test_declining_in_the_client_rejects_the_call(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path, mode: str
) -> None:
    async with gateway(api, tmp_path, dev_issuer) as (url, bank, wid, alice):
        async with client(url, "bob", Human("decline"), mode) as mcp:
            result = await mcp.call_tool("transfer", {"account": "acme", "amount": 5})
        view = await only_instance(alice, wid)
    assert result.is_error and bank.calls() == []
    assert result.meta is not None and result.meta[DECISION_META]["reason"] == "rejected"
    (decision,) = view.decisions
    assert decision.decision_type is sdk.DecisionType.REJECT
    assert decision.channel == "mcp-elicitation" and decision.human_actor_id == "bob"
    assert decision.justification == "declined by the caller in their MCP client"


@MODES
async def test_dismissing_the_elicitation_leaves_it_to_the_approvers(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path, mode: str
) -> None:
    bob = Human("cancel")
    async with gateway(api, tmp_path, dev_issuer) as (url, bank, wid, alice):

        async def approve_once_dismissed() -> None:
            async with asyncio.timeout(30):
                while not bob.asked:
                    await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # the dismissal reaches the gateway
            await approve_next(alice, wid)

        async with client(url, "bob", bob, mode) as mcp:
            approval = asyncio.create_task(approve_once_dismissed())
            result = await mcp.call_tool("transfer", {"account": "acme", "amount": 5})
            await approval
        view = await only_instance(alice, wid)
    assert len(bob.asked) == 1
    assert not result.is_error and bank.calls() != []
    assert result.meta is not None
    assert result.meta[ELICITATION_META] == {"offered": True, "answer": "cancel"}
    (decision,) = view.decisions
    assert decision.channel == "api" and decision.human_actor_id == "alice"


async def test_a_client_without_elicitation_holds_as_usual(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path
) -> None:
    async with gateway(api, tmp_path, dev_issuer) as (url, bank, wid, alice):
        async with client(url, "bob", None) as mcp:
            approval = asyncio.create_task(approve_next(alice, wid))
            result = await mcp.call_tool("transfer", {"account": "acme", "amount": 5})
            await approval
        view = await only_instance(alice, wid)
    assert not result.is_error and bank.calls() != []
    assert result.meta is not None and ELICITATION_META not in result.meta
    (decision,) = view.decisions
    assert decision.channel == "api" and decision.human_actor_id == "alice"


async def test_no_elicitation_where_separation_of_duties_applies(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path
) -> None:
    bob = Human("accept")
    async with gateway(api, tmp_path, dev_issuer) as (url, bank, wid, alice):
        async with client(url, "bob", bob) as mcp:
            approval = asyncio.create_task(approve_next(alice, wid))
            result = await mcp.call_tool("close_account", {"account": "acme"})
            await approval
        view = await only_instance(alice, wid)
    assert bob.asked == []
    assert not result.is_error and bank.calls() == [
        {"tool": "close_account", "arguments": {"account": "acme"}}
    ]
    (decision,) = view.decisions
    assert decision.channel == "api" and decision.human_actor_id == "alice"


async def test_a_decision_elsewhere_first_makes_the_answer_a_no_op(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path
) -> None:
    """First decision wins across channels: alice rejects from the API while bob looks
    at the elicitation; bob's acceptance is then refused and said so to his client
    (MCP 2026-07-28: the answer comes with the retry, after alice's decision)."""
    bob = Human("accept")
    async with gateway(api, tmp_path, dev_issuer) as (url, bank, wid, alice):

        async def alice_rejects_first() -> None:
            item = await next_request(alice, wid)
            seen = sdk.args_digest(item.action, item.arguments)
            await alice.decide(
                item.instance_id, item.request_id, "REJECT", seen_args_digest=seen,
                justification="not today",
            )  # fmt: skip

        bob.before = alice_rejects_first
        async with client(url, "bob", bob) as mcp:
            result = await mcp.call_tool("transfer", {"account": "acme", "amount": 5})
        view = await only_instance(alice, wid)
    assert result.is_error and bank.calls() == []
    (decision,) = view.decisions
    assert decision.human_actor_id == "alice" and decision.channel == "api"
    assert result.meta is not None
    outcome = result.meta[ELICITATION_META]
    assert outcome["answer"] == "accept" and outcome["recorded"] is False
    assert outcome["reason"] == "already_decided" and "alice" in outcome["message"]


async def test_a_self_approval_outside_the_gateway_is_refused(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path
) -> None:
    """Channel `mcp-elicitation` is the caller's own, through a gateway: an approver
    deciding directly from the API cannot claim it."""
    async with (
        gateway(api, tmp_path, dev_issuer) as (url, bank, wid, alice),
        client(url, "bob", None) as mcp,
    ):
        call = asyncio.create_task(mcp.call_tool("transfer", {"account": "a", "amount": 5}))
        item = await next_request(alice, wid)
        seen = sdk.args_digest(item.action, item.arguments)
        with pytest.raises(sdk.GantralSDKError) as refused:
            await alice.decide(
                item.instance_id, item.request_id, "APPROVE", seen_args_digest=seen,
                channel="mcp-elicitation",
            )  # fmt: skip
        # Through the gateway, for someone else's request, or for an agent: refused too.
        gateway_token = token("mcp-gw", ["mcp-gateway"], agent=True)
        body = {
            "request_id": item.request_id, "decision_type": "APPROVE",
            "idempotency_key": uuid.uuid4().hex, "seen_args_digest": seen,
            "channel": "mcp-elicitation",
        }  # fmt: skip
        answers = {}
        for who, agent in (("carol", False), ("bot-1", True)):
            owner = "bob" if agent else None
            caller = token(who, BOB, audience=GATEWAY_RESOURCE, agent=agent, owner=owner)
            headers = {
                "Authorization": f"Bearer {gateway_token}", "Gantral-On-Behalf-Of": caller,
            }  # fmt: skip
            answer = await api.post(
                f"/v1/instances/{item.instance_id}/decisions", json=body, headers=headers
            )
            answers[who] = (answer.status_code, answer.json()["reason"])
        view = await alice.get_instance(item.instance_id)
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
    assert refused.value.status_code == 403
    assert refused.value.reason == "self_approval_not_allowed"
    assert answers == {
        "carol": (403, "self_approval_not_allowed"),
        "bot-1": (403, "not_human"),
    }
    assert view.decisions == [] and bank.calls() == []


async def approve_next(alice: sdk.AsyncGantralClient, wid: str) -> None:
    item = await next_request(alice, wid)
    seen = sdk.args_digest(item.action, item.arguments)
    await alice.decide(item.instance_id, item.request_id, "APPROVE", seen_args_digest=seen)

"""The MCP gateway over streamable HTTP, driven by the official `mcp` client as a user's
MCP client would drive it: calls it abandons, tokens it presents, holds it waits out.

The upstream is the real MCP server of `test_integrations_mcp` (a subprocess over stdio);
approvers decide from their inbox through the API, as they would from any channel."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

import gantral_sdk as sdk
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from pydantic import AnyHttpUrl

from gantral.devstack.process import free_port
from gantral.integrations import Guard, ToolRoute
from gantral.integrations.mcp_hold import HoldSettings
from gantral.integrations.mcp_proxy import (
    DECISION_META,
    GOVERNANCE_META,
    Discovery,
    GatewayAuth,
    build_proxy,
    serve_http,
)
from gantral.settings.identity import IdentitySettings
from tests.helpers.auth import AUDIENCE, GATEWAY_RESOURCE, ISSUER, token
from tests.helpers.integrations_support import (
    agent_client,
    alice_client,
    decide_next,
    next_request,
    publish_tools_workflow,
    whole_inbox,
)
from tests.helpers.mcp_bank import Bank
from tests.helpers.mcp_gateway import gateway_agent, listening, sealed_trail

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ROUTES = {"lookup": ToolRoute("lookup"), "transfer": ToolRoute("transfer", action="pay")}


@asynccontextmanager
async def gateway(
    api: httpx.AsyncClient,
    tmp: Path,
    identity: IdentitySettings | None = None,
    hold: HoldSettings | None = None,
    discovery: Discovery = "show",
    **guard: Any,
) -> AsyncIterator[tuple[str, Bank, str, sdk.AsyncGantralClient]]:
    """(the gateway's MCP URL, the upstream bank, the workflow id, alice the approver).

    With `identity` (the session's dev issuer) the gateway is a protected resource whose
    callers present tokens for `GATEWAY_RESOURCE`; without, an anonymous loopback gateway
    acting as agent-7."""
    bank = Bank(tmp)
    wid = await publish_tools_workflow(api)
    port = free_port()
    auth = None
    if identity is not None:
        auth = GatewayAuth(
            resource=AnyHttpUrl(GATEWAY_RESOURCE), issuer=ISSUER, jwks_url=identity.jwks_url
        )
    agent = agent_client(api) if auth is None else nullcontext(gateway_agent(api))
    async with (
        agent as gantral,
        alice_client(api) as alice,
        Client(bank.params, cache=None) as upstream,
    ):
        routes = guard.pop("routes", ROUTES)
        guarded = Guard(gantral, wid, "payments", routes, wait=guard.pop("wait", 60), **guard)
        proxy = build_proxy(guarded, upstream, hold=hold, discovery=discovery)
        serving = asyncio.create_task(serve_http(proxy, "127.0.0.1", port, "/mcp", auth=auth))
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            await listening(url)
            yield url, bank, wid, alice
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)


class Wire:
    """The official client over streamable HTTP, with the HTTP answers it got recorded."""

    def __init__(self, url: str, bearer_token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else None
        http = create_mcp_http_client(headers=headers)
        self.answers: list[tuple[int, str | None]] = []

        async def record(response: Any) -> None:
            self.answers.append((response.status_code, response.headers.get("www-authenticate")))

        http.event_hooks["response"] = [record]
        self.client = Client(streamable_http_client(url, http_client=http), cache=None)

    async def refused(self) -> str:
        """Connect and call; the client must fail on a 401. Returns its WWW-Authenticate."""
        try:
            async with self.client as client:
                await client.call_tool("lookup", {"account": "acme"})
        except BaseException:  # the client's own error, in exception groups
            pass
        else:
            raise AssertionError("the call went through")
        assert self.answers and {status for status, _ in self.answers} == {401}, self.answers
        challenge = self.answers[0][1]
        assert challenge is not None
        return challenge


def as_user(url: str, bearer_token: str) -> Client:
    """The official client, presenting `bearer_token` as an OAuth-configured client would."""
    return Wire(url, bearer_token).client


async def settled(alice: sdk.AsyncGantralClient, iid: str) -> sdk.InstanceView:
    """The instance once the gateway's cancellation reached it."""
    async with asyncio.timeout(20):
        while True:
            view = await alice.get_instance(iid)
            if view.state is sdk.State.TERMINATED:
                return view
            await asyncio.sleep(0.1)


async def assert_abandoned(alice: sdk.AsyncGantralClient, item: Any, bank: Bank) -> None:
    """Cancelled and recorded as such; a decision after it refused; no grant; no call."""
    view = await settled(alice, item.instance_id)
    (request,) = view.requests
    assert request.status is sdk.RequestStatus.CANCELLED and request.grant is None
    assert "abandoned by its caller" in (view.transitions[-1].cause)
    seen = sdk.args_digest(item.action, item.arguments)
    with pytest.raises(sdk.GantralSDKError) as refused:
        await alice.decide(item.instance_id, item.request_id, "APPROVE", seen_args_digest=seen)
    assert refused.value.status_code == 409
    after = await alice.get_instance(item.instance_id)
    assert after.state is sdk.State.TERMINATED and after.decisions == []
    assert all(r.grant is None for r in after.requests)
    assert bank.calls() == []


async def test_a_cancelled_call_cancels_its_request(api: httpx.AsyncClient, tmp_path: Path) -> None:
    async with (
        gateway(api, tmp_path) as (url, bank, wid, alice),
        Client(url, cache=None) as client,
    ):
        call = asyncio.create_task(client.call_tool("transfer", {"account": "a", "amount": 5}))
        item = await next_request(alice, wid)
        call.cancel()  # the client sends notifications/cancelled
        await asyncio.gather(call, return_exceptions=True)
        await assert_abandoned(alice, item, bank)


async def test_a_client_timeout_cancels_its_request(api: httpx.AsyncClient, tmp_path: Path) -> None:
    async with gateway(api, tmp_path) as (url, bank, wid, alice):
        async with Client(url, cache=None) as client:
            with pytest.raises(Exception, match=r"(?i)tim"):
                await client.call_tool(
                    "transfer", {"account": "a", "amount": 5}, read_timeout_seconds=3
                )
        instances = await alice.list_instances(workflow=wid)
        (instance,) = instances.items
        view = await settled(alice, instance.instance_id)
        (request,) = view.requests
        assert request.status is sdk.RequestStatus.CANCELLED and request.grant is None
        assert bank.calls() == []


async def test_a_client_that_disconnects_cancels_its_request(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    async with gateway(api, tmp_path) as (url, bank, wid, alice):

        async def call_then_vanish() -> None:
            async with Client(url, cache=None) as client:
                await client.call_tool("transfer", {"account": "a", "amount": 5})

        session = asyncio.create_task(call_then_vanish())
        item = await next_request(alice, wid)
        session.cancel()  # the whole session goes: its calls are abandoned
        await asyncio.gather(session, return_exceptions=True)
        await assert_abandoned(alice, item, bank)


async def test_an_approved_call_still_runs(api: httpx.AsyncClient, tmp_path: Path) -> None:
    """The control: the same path, not abandoned, runs once with the grant."""
    async with (
        gateway(api, tmp_path) as (url, bank, wid, alice),
        Client(url, cache=None) as client,
    ):
        approval = asyncio.create_task(decide_next(alice, wid, "APPROVE"))
        result = await client.call_tool("transfer", {"account": "a", "amount": 5})
        await approval
    assert not result.is_error
    assert bank.calls() == [{"tool": "transfer", "arguments": {"account": "a", "amount": 5}}]


# -- the gateway as an OAuth 2.1 protected resource -------------------------------------


async def test_without_a_token_the_gateway_answers_401_naming_its_metadata(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path
) -> None:
    async with gateway(api, tmp_path, dev_issuer) as (url, bank, wid, alice):
        challenge = await Wire(url).refused()  # the official client, no token
        async with httpx.AsyncClient() as raw:
            base = url.removesuffix("/mcp")
            nested = await raw.get(f"{base}/.well-known/oauth-protected-resource/mcp")
            bare = await raw.get(f"{base}/.well-known/oauth-protected-resource")
        instances = await alice.list_instances(workflow=wid)
    assert challenge.startswith("Bearer ")
    metadata_url = "https://mcp-gateway.gantral.test/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata_url}"' in challenge
    for answer in (nested, bare):
        assert answer.status_code == 200
        metadata = answer.json()
        assert metadata["resource"] == GATEWAY_RESOURCE
        assert metadata["authorization_servers"] == [ISSUER]
        assert metadata["bearer_methods_supported"] == ["header"]
    assert bank.calls() == [] and instances.items == []


@pytest.mark.parametrize(
    "audience", [AUDIENCE, "https://other-mcp.example/mcp"], ids=["gantral", "other"]
)
async def test_a_token_for_another_audience_is_refused(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path, audience: str
) -> None:
    """RFC 8707: a token issued for Gantral's API or another MCP server does not open this
    one, even though it is validly signed by the same issuer for the same user."""
    stolen = token("dana", ["developer"], audience=audience)
    async with gateway(api, tmp_path, dev_issuer) as (url, bank, wid, alice):
        challenge = await Wire(url, stolen).refused()
        assert 'error="invalid_token"' in challenge and "resource_metadata=" in challenge
        instances = await alice.list_instances(workflow=wid)
    assert bank.calls() == [] and instances.items == []


async def test_each_caller_is_the_principal_of_their_own_calls(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path
) -> None:
    """Two users through one gateway: Gantral starts, authorizes and audits each call as
    its caller, not as a shared gateway identity; the caller is also the accountable human,
    so separation of duties keeps a tech lead from approving their own call."""
    dana = token("dana", ["developer"], audience=GATEWAY_RESOURCE)
    bob = token("bob", ["TECH_LEAD", "approver"], audience=GATEWAY_RESOURCE)
    async with gateway(api, tmp_path, dev_issuer) as (url, _, wid, alice):
        async with as_user(url, dana) as client:
            looked = await client.call_tool("lookup", {"account": "acme"})
        async with as_user(url, bob) as client, alice_client(api) as lead:
            auth = sdk.BearerToken(token("bob", ["TECH_LEAD", "approver"]))
            async with sdk.AsyncGantralClient(http=api, auth=auth) as bob_inbox:

                async def approve_when_bob_cannot() -> None:
                    item = await next_request(lead, wid)
                    mine = await whole_inbox(bob_inbox)
                    assert item.request_id not in {i.request_id for i in mine}
                    seen = sdk.args_digest(item.action, item.arguments)
                    with pytest.raises(sdk.GantralSDKError) as own:
                        await bob_inbox.decide(
                            item.instance_id, item.request_id, "APPROVE", seen_args_digest=seen
                        )
                    assert own.value.status_code == 403
                    await lead.decide(
                        item.instance_id, item.request_id, "APPROVE", seen_args_digest=seen
                    )

                approval = asyncio.create_task(approve_when_bob_cannot())
                paid = await client.call_tool("transfer", {"account": "acme", "amount": 5})
                await approval
        instances = await alice.list_instances(workflow=wid)
        auditor = sdk.BearerToken(token("audrey", ["auditor"], teams=()))
        trails = {}
        async with sdk.AsyncGantralClient(http=api, auth=auditor) as audrey:
            for listed in instances.items:
                view = await alice.get_instance(listed.instance_id)
                trails[view.started_by.id] = (view, await sealed_trail(audrey, view.instance_id))
    assert not looked.is_error and not paid.is_error
    assert set(trails) == {"dana", "bob"}
    for who, (view, trail) in trails.items():
        assert view.started_by.owner == who
        agents = {e.actor["id"] for e in trail.events if e.actor["kind"] == "agent"}
        assert agents == {who}, (who, agents)
        assert {e.actor.get("owner") for e in trail.events if e.actor["kind"] == "agent"} == {who}
    bob_view = trails["bob"][0]
    assert bob_view.requests[0].requested_by == "bob"
    assert "bob" in bob_view.requests[0].excluded_approvers
    assert bob_view.decisions[0].human_actor_id == "alice"


@pytest.mark.parametrize(
    ("holder", "caller", "status", "reason"),
    [
        # Only a gateway may act for someone: not any agent, never a human.
        (("agent-7", [], True), ("dana", GATEWAY_RESOURCE), 403, "not_a_gateway"),
        (("alice", ["mcp-gateway"], False), ("dana", GATEWAY_RESOURCE), 403, "not_a_gateway"),
        # A gateway acts only for tokens issued to its own resource.
        (("other-gw", ["mcp-gateway"], True), ("dana", GATEWAY_RESOURCE), 403, "not_this_gateway"),
        # The caller's token must have been issued for a gateway, not for Gantral.
        (("mcp-gw", ["mcp-gateway"], True), ("dana", AUDIENCE), 401, "wrong_audience"),
        (("mcp-gw", ["mcp-gateway"], True), ("dana", "https://x.example/mcp"), 401, None),
    ],
    ids=["agent", "human", "other-gateway", "gantral-token", "other-resource"],
)
async def test_acting_for_a_caller_needs_a_gateway_and_a_token_issued_to_it(
    api: httpx.AsyncClient,
    holder: tuple[str, list[str], bool],
    caller: tuple[str, str],
    status: int,
    reason: str | None,
) -> None:
    sub, roles, agent = holder
    headers = {
        "Authorization": f"Bearer {token(sub, roles, agent=agent)}",
        "Gantral-On-Behalf-Of": token(caller[0], ["developer"], audience=caller[1]),
    }
    answer = await api.get("/v1/instances", headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["reason"] == (reason or "wrong_audience")


async def test_a_gateway_acting_for_a_caller_is_that_caller(api: httpx.AsyncClient) -> None:
    wid = await publish_tools_workflow(api)
    headers = {
        "Authorization": f"Bearer {token('mcp-gw', ['mcp-gateway'], agent=True)}",
        "Gantral-On-Behalf-Of": token("dana", ["developer"], audience=GATEWAY_RESOURCE),
    }
    body = {"workflow_id": wid, "owning_team_id": "payments"}
    started = await api.post("/v1/instances", json=body, headers=headers)
    assert started.status_code == 201, started.text
    assert started.json()["started_by"] == {
        "id": "dana", "kind": "agent", "roles": ["developer"], "owner": "dana",
    }  # fmt: skip


# -- holds: what the client sees while a human decides ----------------------------------


def text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def test_a_held_call_reports_progress_at_a_steady_interval(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    hold = HoldSettings(progress_every=0.3, patience=None)
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    async with (
        gateway(api, tmp_path, hold=hold) as (url, bank, wid, alice),
        Client(url, cache=None) as client,
    ):

        async def approve_later() -> Any:
            item = await next_request(alice, wid)
            await asyncio.sleep(1.5)
            seen_digest = sdk.args_digest(item.action, item.arguments)
            await alice.decide(
                item.instance_id, item.request_id, "APPROVE", seen_args_digest=seen_digest
            )
            return item

        approval = asyncio.create_task(approve_later())
        result = await client.call_tool(
            "transfer", {"account": "acme", "amount": 5}, progress_callback=progress
        )
        item = await approval
    assert not result.is_error and bank.calls() != []
    assert len(seen) >= 4, seen
    dones = [done for done, _, _ in seen]
    assert dones == sorted(dones) and len(set(dones)) == len(dones)
    gaps = [b - a for a, b in itertools.pairwise(dones)]
    assert all(0.2 < gap < 1.0 for gap in gaps), gaps
    pattern = (
        rf"waiting for TECH_LEAD approval, request {item.request_id}, "
        r"deadline \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    )
    assert all(re.fullmatch(pattern, message or "") for _, _, message in seen), seen[0]
    assert all(total is not None and 58 < total <= 60 for _, total, _ in seen)


async def test_past_the_clients_patience_the_call_is_pending_and_a_retry_picks_it_up(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    hold = HoldSettings(patience=1)
    call = {"account": "acme", "amount": 5}
    async with (
        gateway(api, tmp_path, hold=hold) as (url, bank, wid, alice),
        Client(url, cache=None) as client,
    ):
        first = await client.call_tool("transfer", call)
        # Meanwhile the tech lead decides, once, on the one request.
        item, _ = await decide_next(alice, wid, "APPROVE")
        second = await client.call_tool("transfer", call)  # the same call, retried
        instances = await alice.list_instances(workflow=wid)
    assert first.is_error and first.meta is not None
    pending = first.meta[DECISION_META]
    assert pending["status"] == "pending" and pending["request_id"] == item.request_id
    assert pending["required_approvers"] == ["TECH_LEAD"]
    assert f"(request {item.request_id}, deadline " in text(first)
    assert "Call it again with the same arguments" in text(first)
    assert not second.is_error and text(second) == "sent 5 to acme"
    assert second.meta is not None
    decided = second.meta[DECISION_META]
    assert decided["request_id"] == item.request_id and decided["actor"] == "alice"
    assert bank.calls() == [{"tool": "transfer", "arguments": call}]
    (instance,) = instances.items  # asked once, not twice
    assert instance.instance_id == item.instance_id


async def test_a_retry_with_other_arguments_is_a_new_request(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    hold = HoldSettings(patience=0.5)
    async with (
        gateway(api, tmp_path, hold=hold) as (url, bank, wid, alice),
        Client(url, cache=None) as client,
    ):
        first = await client.call_tool("transfer", {"account": "acme", "amount": 5})
        other = await client.call_tool("transfer", {"account": "acme", "amount": 6})
        instances = await alice.list_instances(workflow=wid)
    assert first.meta is not None and other.meta is not None
    ids = {r.meta[DECISION_META]["request_id"] for r in (first, other) if r.meta}
    assert len(ids) == 2 and len(instances.items) == 2 and bank.calls() == []


async def test_a_pending_call_nobody_picks_up_is_cancelled_at_its_deadline(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    hold = HoldSettings(patience=0.5)
    async with (
        gateway(api, tmp_path, hold=hold, wait=3) as (url, bank, _, alice),
        Client(url, cache=None) as client,
    ):
        first = await client.call_tool("transfer", {"account": "acme", "amount": 5})
        assert first.meta is not None
        iid = first.meta[DECISION_META]["instance_id"]
        view = await settled(alice, iid)
        # After the deadline a retry is a new request, not the expired one.
        again = await client.call_tool("transfer", {"account": "acme", "amount": 5})
    (request,) = view.requests
    assert request.status is sdk.RequestStatus.CANCELLED and request.grant is None
    assert "not picked up in time" in view.transitions[-1].cause
    assert again.meta is not None and again.meta[DECISION_META]["instance_id"] != iid
    assert bank.calls() == []


# -- governed tool discovery -------------------------------------------------------------


async def test_tools_the_caller_can_never_call_are_marked_or_hidden(
    api: httpx.AsyncClient, dev_issuer: IdentitySettings, tmp_path: Path
) -> None:
    dana = token("dana", ["developer"], audience=GATEWAY_RESOURCE)
    rita = token("rita", ["developer"], teams=["risk"], audience=GATEWAY_RESOURCE)
    async with gateway(api, tmp_path, dev_issuer, discovery="mark") as (url, bank, _, _):
        async with as_user(url, dana) as client:
            marked = {t.name: t for t in (await client.list_tools()).tools}
            refused = await client.call_tool("close_account", {"account": "acme"})
        async with as_user(url, rita) as client:
            outsider = {t.name: t for t in (await client.list_tools()).tools}
    async with (
        gateway(api, tmp_path, dev_issuer, discovery="hide") as (url, _, _, _),
        as_user(url, dana) as client,
    ):
        hidden = {t.name for t in (await client.list_tools()).tools}

    assert set(marked) == {"lookup", "transfer", "close_account"}
    for name in ("lookup", "transfer"):
        assert GOVERNANCE_META not in (marked[name].meta or {})
    flagged = marked["close_account"]
    assert flagged.meta is not None
    assert flagged.meta[GOVERNANCE_META] == {"callable": False, "reason": "not_governed"}
    assert (flagged.description or "").startswith("[Refused by Gantral: not governed")
    assert refused.is_error and bank.calls() == []  # marked or not, the call is refused
    assert {
        name: (tool.meta or {})[GOVERNANCE_META]["reason"] for name, tool in outsider.items()
    } == {"lookup": "not_your_team", "transfer": "not_your_team", "close_account": "not_governed"}
    assert hidden == {"lookup", "transfer"}

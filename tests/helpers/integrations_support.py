"""Shared by the framework-integration tests: a workflow template mapping two tools to
steps, a human approver deciding from their inbox, and a recording tool.

The template: `lookup` runs freely; `transfer` needs a TECH_LEAD (MEDIUM), and any
amount over 1000 is HIGH and needs a CFO, so an override that raises the amount past
1000 is re-checked by the policy and cannot be approved by the tech lead alone.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import gantral_sdk as sdk
import httpx

from gantral.channels.inbox import InboxItem
from tests.helpers.auth import ADMIN, token

T = TypeVar("T")

TEMPLATE = """\
id: {wid}
steps:
  - id: lookup
  - id: transfer
    policy:
      materiality: MEDIUM
      requires_human_approval: true
      approvers: [{{role: TECH_LEAD}}]
      override_roles: [TECH_LEAD]
      materiality_rules:
        - name: large
          level: HIGH
          when: [{{field: arguments.amount, op: gt, value: 1000}}]
      by_materiality:
        HIGH:
          approvers: [{{role: CFO}}]
"""

AGENT_ID = "agent-7"


async def publish_tools_workflow(api: httpx.AsyncClient) -> str:
    """A fresh copy of the template; its id keeps this test's inbox items apart."""
    wid = f"tools-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": "application/yaml", **ADMIN}
    resp = await api.put(f"/v1/workflows/{wid}", content=TEMPLATE.format(wid=wid), headers=headers)
    assert resp.status_code in (200, 201), resp.text
    return wid


@asynccontextmanager
async def agent_client(api: httpx.AsyncClient) -> AsyncIterator[sdk.AsyncGantralClient]:
    auth = sdk.BearerToken(token(AGENT_ID, agent=True))
    async with sdk.AsyncGantralClient(http=api, auth=auth, poll_wait=5) as client:
        yield client


@asynccontextmanager
async def alice_client(api: httpx.AsyncClient) -> AsyncIterator[sdk.AsyncGantralClient]:
    """A tech lead of team payments who approves and may override."""
    auth = sdk.BearerToken(token("alice", ["TECH_LEAD", "approver", "supervisor"]))
    async with sdk.AsyncGantralClient(http=api, auth=auth) as client:
        yield client


async def alongside(decider: asyncio.Task[Any], agent: Awaitable[T]) -> T:
    """The agent's run while `decider` decides for it; a decider that fails ends the run
    with its error at once (an agent waits up to its own wait, which may be half an hour)."""
    running = asyncio.ensure_future(agent)
    await asyncio.wait({decider, running}, return_when=asyncio.FIRST_COMPLETED)
    if decider.done() and decider.exception() is not None:
        running.cancel()
        raise AssertionError("the approver failed while the agent waited") from decider.exception()
    return await running


async def whole_inbox(human: sdk.AsyncGantralClient, limit: int = 200) -> list[InboxItem]:
    """Every open request in the human's inbox, `limit` a page, every page read: a busy
    session keeps more requests open than one page holds."""
    items: list[InboxItem] = []
    token: str | None = None
    while True:
        page = await human.list_requests(limit=limit, page_token=token)
        items += page.items
        token = page.next_page_token
        if token is None:
            return items


async def next_request(
    human: sdk.AsyncGantralClient, workflow_id: str, timeout: float = 30
) -> InboxItem:
    """The first open request of `workflow_id` in the human's inbox, once there is one."""
    async with asyncio.timeout(timeout):
        while True:
            for item in await whole_inbox(human):
                if item.workflow_id == workflow_id:
                    return item
            await asyncio.sleep(0.2)


async def decide_next(
    human: sdk.AsyncGantralClient,
    workflow_id: str,
    decision: str,
    *,
    justification: str | None = None,
    context_delta: dict[str, Any] | None = None,
) -> tuple[InboxItem, sdk.DecisionResult]:
    """Decide the next request the way an approver does: on the inbox item they were shown
    (its request and digest; the digest checked against the arguments listed)."""
    item = await next_request(human, workflow_id)
    assert sdk.args_digest(item.action, item.arguments) == item.args_digest
    result = await human.decide(
        item.instance_id, item, decision, justification=justification,
        context_delta=context_delta,
    )  # fmt: skip
    return item, result


@dataclass
class Ledger:
    """A tool that records every call it really makes."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def transfer(self, account: str, amount: int) -> str:
        self.calls.append({"account": account, "amount": amount})
        return f"sent {amount} to {account}"

    def lookup(self, account: str) -> str:
        return f"{account}: balance 1200"

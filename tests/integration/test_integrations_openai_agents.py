"""The OpenAI Agents SDK on the real stack: its own scripted test model calls `transfer`;
Gantral is the tool-approval hook, and a tech lead decides from their inbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import gantral_sdk as sdk
import httpx
import pytest
from agents import (
    Agent,
    FunctionTool,
    ModelBehaviorError,
    RunConfig,
    RunContextWrapper,
    Runner,
    RunState,
    function_tool,
)
from agents.testing import ScriptedModel, assistant_message, function_call
from agents.tool_context import ToolContext

from gantral.integrations import Guard
from gantral.integrations.openai_agents import GantralApprovals
from tests.helpers.integrations_support import (
    Ledger,
    agent_client,
    alice_client,
    decide_next,
    publish_tools_workflow,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ASKED = {"account": "acme", "amount": 200}
OFFLINE = RunConfig(tracing_disabled=True)  # no trace export: no network


def ledger_tools(ledger: Ledger) -> tuple[FunctionTool, FunctionTool]:
    @function_tool
    def transfer(account: str, amount: int) -> str:
        """Send money to an account."""
        return ledger.transfer(account, amount)

    @function_tool
    def lookup(account: str) -> str:
        """Read an account's balance."""
        return ledger.lookup(account)

    return transfer, lookup


@dataclass
class Setup:
    agent: Agent[Any]
    model: ScriptedModel
    approvals: GantralApprovals
    ledger: Ledger
    wid: str
    alice: sdk.AsyncGantralClient


@asynccontextmanager
async def setup(api: httpx.AsyncClient, *steps: Any) -> AsyncIterator[Setup]:
    wid = await publish_tools_workflow(api)
    ledger = Ledger()
    transfer, lookup = ledger_tools(ledger)
    async with agent_client(api) as client, alice_client(api) as alice:
        guard = Guard(
            client, wid, "payments", {"transfer": "transfer", "lookup": "lookup"}, wait=30
        )
        approvals = GantralApprovals(guard)
        model = ScriptedModel(steps)
        agent: Agent[Any] = Agent(
            name="payments",
            tools=[approvals.govern(transfer), approvals.govern(lookup)],
            model=model,
        )
        yield Setup(agent, model, approvals, ledger, wid, alice)


def tool_outputs(model: ScriptedModel) -> list[str]:
    """What the model was shown as tool results, in its last call."""
    items = model.calls[-1].input
    assert isinstance(items, list)
    return [
        str(i["output"])
        for i in items
        if isinstance(i, dict) and i.get("type") == "function_call_output"
    ]


async def test_approved_call_runs_once_with_the_approved_arguments(
    api: httpx.AsyncClient,
) -> None:
    async with setup(
        api,
        [function_call("lookup", {"account": "acme"}, call_id="c0")],
        [function_call("transfer", ASKED, call_id="c1")],
        [assistant_message("done")],
    ) as s:
        result = await Runner.run(s.agent, "pay acme 200", run_config=OFFLINE)
        # `lookup` needs nobody; `transfer` interrupts the run until Gantral decides.
        (pending,) = result.interruptions
        assert pending.tool_name == "transfer" and s.ledger.calls == []
        _, decision = await decide_next(s.alice, s.wid, "APPROVE")
        state = await s.approvals.resolve(result)
        result = await Runner.run(s.agent, state, run_config=OFFLINE)

    assert result.interruptions == [] and result.final_output == "done"
    assert s.ledger.calls == [ASKED]
    assert tool_outputs(s.model)[-1] == "sent 200 to acme"
    decided = s.approvals.decisions["c1"]
    assert decided.outcome == "APPROVED" and decided.actor == "alice"
    assert decided.decision_id == decision.decision.decision_id
    assert s.approvals.decisions["c0"].outcome == "ALLOW"


async def test_override_runs_the_edited_arguments(api: httpx.AsyncClient) -> None:
    async with setup(
        api,
        [function_call("transfer", {"account": "acme", "amount": 900}, call_id="c1")],
        [assistant_message("done")],
    ) as s:
        result = await Runner.run(s.agent, "pay", run_config=OFFLINE)
        await decide_next(
            s.alice, s.wid, "OVERRIDE", justification="cap", context_delta={"amount": 150}
        )
        result = await Runner.run(s.agent, await s.approvals.resolve(result), run_config=OFFLINE)
    assert s.ledger.calls == [{"account": "acme", "amount": 150}]
    assert s.approvals.decisions["c1"].outcome == "OVERRIDDEN"
    assert s.approvals.decisions["c1"].arguments == {"account": "acme", "amount": 150}


async def test_rejection_never_runs_and_the_model_sees_why(api: httpx.AsyncClient) -> None:
    async with setup(
        api,
        [function_call("transfer", ASKED, call_id="c1")],
        [assistant_message("understood")],
    ) as s:
        result = await Runner.run(s.agent, "pay", run_config=OFFLINE)
        item, _ = await decide_next(s.alice, s.wid, "REJECT", justification="freeze week")
        result = await Runner.run(s.agent, await s.approvals.resolve(result), run_config=OFFLINE)
    assert s.ledger.calls == []
    assert result.final_output == "understood"
    assert tool_outputs(s.model) == [
        "Gantral: tool 'transfer' was REJECTED by alice: freeze week; "
        f"the call was not made (request {item.request_id})."
    ]


async def test_arguments_changed_after_approval_are_refused(api: httpx.AsyncClient) -> None:
    async with setup(
        api,
        [function_call("transfer", ASKED, call_id="c1")],
        [assistant_message("ok")],
    ) as s:
        result = await Runner.run(s.agent, "pay", run_config=OFFLINE)
        await decide_next(s.alice, s.wid, "APPROVE")
        state = await s.approvals.resolve(result)
        # After the approval, the saved run state is edited: the call now pays mallory.
        # The Agents SDK itself refuses a call id whose payload changed.
        saved = state.to_string()
        asked = json.dumps(ASKED, separators=(",", ":")).replace('"', '\\"')
        assert asked in saved
        edited = saved.replace(asked, asked.replace("acme", "mallory"))
        with pytest.raises(ModelBehaviorError):
            await Runner.run(
                s.agent, await RunState.from_string(s.agent, edited), run_config=OFFLINE
            )

        # And Gantral's hook, called as the SDK calls it, runs nothing the grant does not
        # cover: approved for acme, invoked for mallory.
        (transfer,) = [
            t for t in s.agent.tools if isinstance(t, FunctionTool) and t.name == "transfer"
        ]
        assert callable(transfer.needs_approval)
        assert await transfer.needs_approval(RunContextWrapper(None), ASKED, "c2") is True
        await decide_next(s.alice, s.wid, "APPROVE")
        other = json.dumps({"account": "mallory", "amount": 200})
        ctx = ToolContext(None, tool_name="transfer", tool_call_id="c2", tool_arguments=other)
        refused = await transfer.on_invoke_tool(ctx, other)
    assert s.ledger.calls == []
    assert "does not cover these arguments" in refused

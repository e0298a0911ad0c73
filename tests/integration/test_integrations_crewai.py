"""CrewAI on the real stack: a scripted LLM (a CrewAI `BaseLLM` replaying ReAct turns, no
model, no network) has a crew's agent call `transfer`; the governed tool asks Gantral and
waits while a tech lead decides from their inbox, then runs once with what was granted."""

from __future__ import annotations

import os

# CrewAI's own telemetry, trace prompts and install ping stay off: no network in tests.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_TESTING", "true")
os.environ.setdefault("CREWAI_STORAGE_DIR", "gantral-tests")  # its task-output store

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import gantral_sdk as sdk
import httpx
import pytest
from crewai import Agent, BaseLLM, Crew, Task
from crewai.tools import BaseTool, tool

from gantral.integrations import Guard, ToolRefused
from gantral.integrations._resume import ask, finish, pending_request
from gantral.integrations.crewai import GovernedTool, governed_kickoff, governed_tool
from tests.helpers.auth import token
from tests.helpers.examples import deploy_workflow, load
from tests.helpers.integrations_support import (
    Ledger,
    agent_client,
    alice_client,
    decide_next,
    publish_tools_workflow,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ASKED = {"account": "acme", "amount": 200}


class ScriptedLLM(BaseLLM):
    """Replays ReAct turns in order and keeps every prompt it was given."""

    def __init__(self, *turns: str) -> None:
        super().__init__(model="scripted")
        self.turns = list(turns)
        self.prompts: list[str] = []

    def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        listed = messages if isinstance(messages, list) else [{"content": messages}]
        self.prompts.append("\n".join(str(m["content"]) for m in listed))
        return self.turns.pop(0)

    def supports_function_calling(self) -> bool:
        return False


def act(arguments: dict[str, Any]) -> str:
    return f"Thought: pay it\nAction: transfer\nAction Input: {json.dumps(arguments)}"


FINAL = "Thought: I now know the final answer\nFinal Answer: done"


def ledger_tool(ledger: Ledger) -> BaseTool:
    @tool("transfer")
    def transfer(account: str, amount: int) -> str:
        """Send money to an account."""
        return ledger.transfer(account, amount)

    return transfer


def crew_of(llm: ScriptedLLM, tools: list[BaseTool], task: str = "Pay acme 200.") -> Crew:
    agent = Agent(
        role="payments clerk", goal="pay what you are asked", backstory="careful",
        llm=llm, tools=tools, allow_delegation=False, max_iter=5, verbose=False,
    )  # fmt: skip
    return Crew(
        agents=[agent],
        tasks=[Task(description=task, expected_output="what was paid", agent=agent)],
        verbose=False,
    )


@dataclass
class Setup:
    guard: Guard
    tool: GovernedTool
    ledger: Ledger
    wid: str
    alice: sdk.AsyncGantralClient


@asynccontextmanager
async def setup(api: httpx.AsyncClient) -> AsyncIterator[Setup]:
    wid = await publish_tools_workflow(api)
    ledger = Ledger()
    async with agent_client(api) as client, alice_client(api) as alice:
        guard = Guard(client, wid, "payments", {"transfer": "transfer"}, wait=30)
        yield Setup(guard, governed_tool(guard, ledger_tool(ledger)), ledger, wid, alice)


async def test_an_approved_call_runs_once_with_the_approved_arguments(
    api: httpx.AsyncClient,
) -> None:
    llm = ScriptedLLM(act(ASKED), FINAL)
    async with setup(api) as s:
        approval = asyncio.create_task(decide_next(s.alice, s.wid, "APPROVE"))
        output = await crew_of(llm, [s.tool]).kickoff_async()
        item, decision = await approval

    assert item.arguments == ASKED
    assert s.ledger.calls == [ASKED]
    assert str(output) == "done"
    assert "Observation: sent 200 to acme" in llm.prompts[-1]
    (decided,) = s.tool.decisions
    assert decided.outcome == "APPROVED" and decided.arguments == ASKED
    assert decided.actor == "alice" and decided.decision_id == decision.decision.decision_id


async def test_an_override_runs_the_edit_after_the_policy_rechecked_it(
    api: httpx.AsyncClient,
) -> None:
    asked = {"account": "acme", "amount": 900}
    llm = ScriptedLLM(act(asked), FINAL, act(asked), FINAL)
    async with setup(api) as s:
        edit = asyncio.create_task(
            decide_next(
                s.alice, s.wid, "OVERRIDE", justification="cap", context_delta={"amount": 150}
            )
        )
        await crew_of(llm, [s.tool]).kickoff_async()
        await edit
        assert s.ledger.calls == [{"account": "acme", "amount": 150}]
        assert "Observation: sent 150 to acme" in llm.prompts[-1]

        # An edit past the tech lead's authority (over 1000 is HIGH: a CFO's) is re-checked
        # by the policy: it goes to a CFO, and the tool waits; it runs once the CFO approves.
        async def raise_then_cfo() -> None:
            await decide_next(
                s.alice, s.wid, "OVERRIDE", justification="all", context_delta={"amount": 5000}
            )
            auth = sdk.BearerToken(token("cara", ["CFO", "approver"]))
            async with sdk.AsyncGantralClient(http=api, auth=auth) as cfo:
                await decide_next(cfo, s.wid, "APPROVE")

        escalation = asyncio.create_task(raise_then_cfo())
        await crew_of(llm, [s.tool]).kickoff_async()
        await escalation

    assert s.ledger.calls == [
        {"account": "acme", "amount": 150},
        {"account": "acme", "amount": 5000},
    ]
    first, second = s.tool.decisions
    assert first.outcome == "OVERRIDDEN" and first.actor == "alice"
    assert first.justification == "cap"
    assert second.arguments == {"account": "acme", "amount": 5000}


async def test_a_rejected_call_never_runs_and_the_agent_reads_why(
    api: httpx.AsyncClient,
) -> None:
    llm = ScriptedLLM(act(ASKED), FINAL)
    async with setup(api) as s:
        rejection = asyncio.create_task(
            decide_next(s.alice, s.wid, "REJECT", justification="freeze week")
        )
        output = await crew_of(llm, [s.tool]).kickoff_async()
        item, _ = await rejection

    assert s.ledger.calls == [] and s.tool.decisions == []
    assert str(output) == "done"
    refusal = (
        "Gantral: tool 'transfer' was REJECTED by alice: freeze week; "
        f"the call was not made (request {item.request_id})."
    )
    assert f"Observation: {refusal}" in llm.prompts[-1]


async def test_arguments_changed_after_approval_are_not_covered(
    api: httpx.AsyncClient,
) -> None:
    # The agent has acme approved and paid, then asks again for mallory: the approval
    # covered acme's arguments once, so this is a new request, and it is refused.
    mallory = {"account": "mallory", "amount": 200}
    llm = ScriptedLLM(act(ASKED), act(mallory), FINAL)
    async with setup(api) as s:

        async def approve_then_reject() -> str:
            await decide_next(s.alice, s.wid, "APPROVE")
            item, _ = await decide_next(s.alice, s.wid, "REJECT", justification="not acme")
            assert item.arguments == mallory
            return item.request_id

        deciding = asyncio.create_task(approve_then_reject())
        await crew_of(llm, [s.tool]).kickoff_async()
        second = await deciding

        assert s.ledger.calls == [ASKED]
        refusal = f"REJECTED by alice: not acme; the call was not made (request {second})"
        assert refusal in llm.prompts[-1]

        # A grant is bound to the arguments it was given for: approved for acme, it does
        # not run mallory (the SDK's digest check, before anything starts).
        asked = await ask(s.guard, "transfer", ASKED)
        shown = pending_request(asked)
        assert shown is not None
        await s.alice.decide(
            asked["instance_id"], shown["gantral"]["request_id"], "APPROVE",
            seen_args_digest=shown["gantral"]["args_digest"],
        )  # fmt: skip
        with pytest.raises(ToolRefused) as refused:
            await finish(s.guard, asked, mallory)
    assert refused.value.reason == "args_digest_mismatch"
    assert s.ledger.calls == [ASKED]


async def test_a_crew_run_is_a_governed_step_on_its_inputs(api: httpx.AsyncClient) -> None:
    wid = await publish_tools_workflow(api)
    async with agent_client(api) as client, alice_client(api) as alice:
        guard = Guard(client, wid, "payments", {"kickoff": "transfer"}, wait=30)
        llm = ScriptedLLM(FINAL)
        crew = crew_of(llm, [], task="Pay {account} {amount}.")
        edit = asyncio.create_task(
            decide_next(alice, wid, "OVERRIDE", justification="less", context_delta={"amount": 5})
        )
        output, decided = await governed_kickoff(guard, crew, ASKED)
        await edit
        assert str(output) == "done" and decided.outcome == "OVERRIDDEN"
        (prompt,) = llm.prompts
        assert "Pay acme 5." in prompt and "Pay acme 200." not in prompt

        untouched = ScriptedLLM(FINAL)
        rejection = asyncio.create_task(decide_next(alice, wid, "REJECT", justification="no"))
        with pytest.raises(ToolRefused) as refused:
            await governed_kickoff(guard, crew_of(untouched, [], "Pay {account}."), ASKED)
        await rejection
    assert refused.value.reason == "rejected" and untouched.prompts == []


async def test_misuse_is_refused_before_anything_runs(api: httpx.AsyncClient) -> None:
    async with setup(api) as s:

        @tool("wire")
        def wire(account: str) -> str:
            """Wire money."""
            return account

        with pytest.raises(ToolRefused) as refused:
            governed_tool(s.guard, wire)

        # Called on the loop the decision must arrive on, it refuses instead of deadlocking.
        with pytest.raises(RuntimeError, match="kickoff_async"):
            s.tool.run(**ASKED)
    assert refused.value.reason == "not_governed"
    assert s.ledger.calls == []


async def test_the_crewai_example(api: httpx.AsyncClient) -> None:
    example = load("crewai_deploy")
    wid = await deploy_workflow(api)
    async with agent_client(api) as client, alice_client(api) as alice:
        override = asyncio.create_task(
            decide_next(
                alice, wid, "OVERRIDE", justification="canary", context_delta={"version": "2.4.0"}
            )
        )
        answer, decisions = await example.run(client, wid, "payments")
        item, _ = await override
    assert item.arguments == {"service": "billing", "version": "2.4.1"}
    assert answer == "deployed billing 2.4.0"
    (decided,) = decisions
    assert decided.outcome == "OVERRIDDEN" and decided.actor == "alice"

"""LangGraph and LangChain on the real stack: a scripted fake chat model asks for a
`transfer`; the governed node pauses the graph (`interrupt`) until a tech lead decides in
Gantral, and the tool runs once with exactly what was granted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import gantral_sdk as sdk
import httpx
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from gantral.integrations import Guard, ToolRefused, ToolRoute
from gantral.integrations._resume import ask, finish, pending_request
from gantral.integrations.langgraph import (
    governed_tool,
    governed_tools_node,
    resume_when_decided,
)
from tests.helpers.integrations_support import (
    Ledger,
    agent_client,
    alice_client,
    decide_next,
    publish_tools_workflow,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ASKED = {"account": "acme", "amount": 200}


def ledger_tool(ledger: Ledger) -> BaseTool:
    @tool
    def transfer(account: str, amount: int) -> str:
        """Send money to an account."""
        return ledger.transfer(account, amount)

    return transfer


def scripted_model(*tool_args: dict[str, Any]) -> GenericFakeChatModel:
    """A fake LLM: one `transfer` call per entry, then a final answer."""
    turns: list[AIMessage] = [
        AIMessage(
            content="",
            id=f"ai-{i}",
            tool_calls=[{"name": "transfer", "args": a, "id": f"call-{i}", "type": "tool_call"}],
        )
        for i, a in enumerate(tool_args)
    ]
    return GenericFakeChatModel(messages=iter([*turns, AIMessage(content="done", id="ai-end")]))


def build_graph(model: GenericFakeChatModel, guard: Guard, tools: list[BaseTool]) -> Any:
    async def agent(state: MessagesState) -> dict[str, list[Any]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def route(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", governed_tools_node(guard, tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    compiled: CompiledStateGraph[Any] = graph.compile(checkpointer=InMemorySaver())
    return compiled


@dataclass
class Setup:
    graph: Any
    guard: Guard
    ledger: Ledger
    wid: str
    agent: sdk.AsyncGantralClient
    alice: sdk.AsyncGantralClient
    config: dict[str, Any]


@asynccontextmanager
async def setup(api: httpx.AsyncClient, *tool_args: dict[str, Any]) -> AsyncIterator[Setup]:
    wid = await publish_tools_workflow(api)
    ledger = Ledger()
    async with agent_client(api) as agent, alice_client(api) as alice:
        guard = Guard(agent, wid, "payments", {"transfer": ToolRoute("transfer")}, wait=30)
        graph = build_graph(scripted_model(*tool_args), guard, [ledger_tool(ledger)])
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        yield Setup(graph, guard, ledger, wid, agent, alice, config)


def tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


async def test_the_graph_pauses_until_approved_and_runs_exactly_that(
    api: httpx.AsyncClient,
) -> None:
    async with setup(api, ASKED) as s:
        paused = await s.graph.ainvoke({"messages": [HumanMessage("pay acme 200")]}, s.config)
        (pending,) = paused["__interrupt__"]
        shown = pending.value["gantral"]
        assert shown["arguments"] == ASKED and shown["required_approvers"] == ["TECH_LEAD"]
        assert s.ledger.calls == []

        # Resumed before anyone decided: it pauses again, nothing runs.
        again = await s.graph.ainvoke(await resume_early(pending.id), s.config)
        assert again["__interrupt__"][0].value == pending.value
        assert s.ledger.calls == []

        item, decision = await decide_next(s.alice, s.wid, "APPROVE")
        assert item.request_id == shown["request_id"]
        resume = await resume_when_decided(s.agent, again["__interrupt__"])
        final = await s.graph.ainvoke(resume, s.config)

    assert s.ledger.calls == [ASKED]
    (reply,) = tool_messages(final)
    assert reply.content == "sent 200 to acme" and reply.status == "success"
    decided = reply.artifact["gantral"]
    assert decided["outcome"] == "APPROVED" and decided["arguments"] == ASKED
    assert decided["decision_id"] == decision.decision.decision_id
    assert decided["actor"] == "alice"
    assert final["messages"][-1].content == "done"
    view = await s.agent.get_instance(decided["instance_id"])
    assert view.state is sdk.State.COMPLETED


async def resume_early(interrupt_id: str) -> Any:
    return Command(resume={interrupt_id: {"status": "APPROVED", "amount": 1}})


async def test_an_override_runs_the_edited_arguments(api: httpx.AsyncClient) -> None:
    async with setup(api, {"account": "acme", "amount": 900}) as s:
        paused = await s.graph.ainvoke({"messages": [HumanMessage("pay")]}, s.config)
        await decide_next(
            s.alice, s.wid, "OVERRIDE", justification="cap", context_delta={"amount": 150}
        )
        final = await s.graph.ainvoke(
            await resume_when_decided(s.agent, paused["__interrupt__"]), s.config
        )
    assert s.ledger.calls == [{"account": "acme", "amount": 150}]
    (reply,) = tool_messages(final)
    assert reply.content == "sent 150 to acme"
    decided = reply.artifact["gantral"]
    assert decided["outcome"] == "OVERRIDDEN" and decided["actor"] == "alice"
    assert decided["arguments"] == {"account": "acme", "amount": 150}
    assert decided["justification"] == "cap"


async def test_a_rejection_never_runs_and_the_model_sees_why(api: httpx.AsyncClient) -> None:
    async with setup(api, ASKED) as s:
        paused = await s.graph.ainvoke({"messages": [HumanMessage("pay")]}, s.config)
        item, _ = await decide_next(s.alice, s.wid, "REJECT", justification="freeze week")
        final = await s.graph.ainvoke(
            await resume_when_decided(s.agent, paused["__interrupt__"]), s.config
        )
    assert s.ledger.calls == []
    (reply,) = tool_messages(final)
    assert reply.status == "error"
    assert reply.content == (
        "Gantral: tool 'transfer' was REJECTED by alice: freeze week; "
        f"the call was not made (request {item.request_id})."
    )
    # The refusal is in the history the model answers next.
    assert final["messages"][-2] == reply and final["messages"][-1].content == "done"


async def test_arguments_changed_after_approval_are_refused(api: httpx.AsyncClient) -> None:
    async with setup(api, ASKED) as s:
        paused = await s.graph.ainvoke({"messages": [HumanMessage("pay")]}, s.config)
        (pending,) = paused["__interrupt__"]
        shown = pending.value["gantral"]
        # While paused, the tool call in the graph's state is edited (same message id).
        tampered = AIMessage(
            content="",
            id="ai-0",
            tool_calls=[
                {
                    "name": "transfer",
                    "args": {"account": "mallory", "amount": 200},
                    "id": "call-0",
                    "type": "tool_call",
                }
            ],
        )
        await s.graph.aupdate_state(s.config, {"messages": [tampered]})
        # Alice approves what she was shown (acme), not what the state now holds.
        await s.alice.decide(
            shown["instance_id"], shown["request_id"], "APPROVE",
            seen_args_digest=shown["args_digest"],
        )  # fmt: skip
        again = await s.graph.ainvoke(Command(resume={pending.id: "APPROVED"}), s.config)

        # The approval of acme does not cover mallory: a new request, and nothing ran.
        (second,) = again["__interrupt__"]
        assert second.value["gantral"]["arguments"] == {"account": "mallory", "amount": 200}
        assert second.value["gantral"]["request_id"] != shown["request_id"]
        assert s.ledger.calls == []
        # The same call, so the same instance: the approval given for acme dies with it.
        assert second.value["gantral"]["instance_id"] == shown["instance_id"]
        await s.alice.decide(
            shown["instance_id"], second.value["gantral"]["request_id"], "REJECT",
            justification="not mallory", seen_args_digest=second.value["gantral"]["args_digest"],
        )  # fmt: skip
        await s.graph.ainvoke(await resume_when_decided(s.agent, [second]), s.config)
        ended = await s.alice.get_instance(shown["instance_id"])
        assert ended.state is sdk.State.TERMINATED and s.ledger.calls == []
        (old_grant,) = [r.grant for r in ended.requests if r.request_id == shown["request_id"]]
        assert old_grant is not None
        with pytest.raises(sdk.GantralSDKError) as dead:  # the acme grant cannot start anything
            await s.agent.report(
                shown["instance_id"], sdk.AgentEventKind.STEP_STARTED, step_id="transfer",
                grant_id=old_grant.grant_id, args_digest=old_grant.args_digest,
            )  # fmt: skip
        assert dead.value.status_code == 409

        # Binding itself: an approved request, then other arguments to run, is refused.
        asked = await ask(s.guard, "transfer", ASKED)
        request = pending_request(asked)
        assert request is not None
        shown = request["gantral"]
        await s.alice.decide(
            asked["instance_id"], shown["request_id"], "APPROVE",
            seen_args_digest=shown["args_digest"],
        )  # fmt: skip
        with pytest.raises(ToolRefused) as refused:
            await finish(s.guard, asked, {"account": "acme", "amount": 2000})
        assert refused.value.reason == "args_digest_mismatch"
        step = await finish(s.guard, asked, ASKED)
        assert step.arguments == ASKED


async def test_the_tool_wrapper_waits_and_runs_with_the_grant(api: httpx.AsyncClient) -> None:
    wid = await publish_tools_workflow(api)
    ledger = Ledger()
    async with agent_client(api) as agent, alice_client(api) as alice:
        guard = Guard(agent, wid, "payments", {"transfer": "transfer"}, wait=30)
        wrapped = governed_tool(guard, ledger_tool(ledger))
        call = {"name": "transfer", "args": ASKED, "id": "c1", "type": "tool_call"}

        overriding = asyncio.create_task(
            decide_next(alice, wid, "OVERRIDE", justification="less", context_delta={"amount": 5})
        )
        approved = await wrapped.ainvoke(call)
        await overriding

        rejecting = asyncio.create_task(decide_next(alice, wid, "REJECT", justification="no"))
        refused = await wrapped.ainvoke({**call, "id": "c2"})
        await rejecting

    assert isinstance(approved, ToolMessage) and approved.content == "sent 5 to acme"
    assert approved.artifact["gantral"]["actor"] == "alice"
    assert isinstance(refused, ToolMessage) and refused.status == "error"
    assert "REJECTED by alice: no" in str(refused.content)
    assert ledger.calls == [{"account": "acme", "amount": 5}]


async def test_a_call_edited_while_pending_withdraws_its_first_request(
    api: httpx.AsyncClient,
) -> None:
    """Edited before anyone decided: the request for the old arguments is superseded (it
    leaves the inbox; approving it is refused), and only the edited call can run."""
    async with setup(api, ASKED) as s:
        paused = await s.graph.ainvoke({"messages": [HumanMessage("pay")]}, s.config)
        (pending,) = paused["__interrupt__"]
        shown = pending.value["gantral"]
        edited = {"account": "acme", "amount": 150}
        tampered = AIMessage(
            content="",
            id="ai-0",
            tool_calls=[{"name": "transfer", "args": edited, "id": "call-0", "type": "tool_call"}],
        )
        await s.graph.aupdate_state(s.config, {"messages": [tampered]})
        again = await s.graph.ainvoke(Command(resume={pending.id: "?"}), s.config)
        (second,) = again["__interrupt__"]
        first = await s.alice.get_instance(shown["instance_id"])
        with pytest.raises(sdk.GantralSDKError) as stale:
            await s.alice.decide(
                shown["instance_id"], shown["request_id"], "APPROVE",
                seen_args_digest=shown["args_digest"],
            )  # fmt: skip
        await s.alice.decide(
            shown["instance_id"], second.value["gantral"]["request_id"], "APPROVE",
            seen_args_digest=second.value["gantral"]["args_digest"],
        )  # fmt: skip
        resume = await resume_when_decided(s.agent, [second])
        done = await s.graph.ainvoke(resume, s.config)
    assert second.value["gantral"]["instance_id"] == shown["instance_id"]
    (old,) = [r for r in first.requests if r.request_id == shown["request_id"]]
    assert old.status is sdk.RequestStatus.SUPERSEDED and old.grant is None
    assert stale.value.status_code == 409
    assert s.ledger.calls == [edited]
    assert tool_messages(done)[-1].artifact["gantral"]["arguments"] == edited

"""LangGraph, governed: a graph whose `deploy` tool call pauses until Gantral decides.

The model is scripted (no LLM, no network): it asks to plan, then to deploy billing
2.4.1. `plan` runs at once (no policy); `deploy` needs a TECH_LEAD, so the graph stops
with an interrupt that names the Gantral request. This script then waits for the
decision and resumes the graph, which runs the deploy with exactly what was granted.

    make run                                                     # the local stack
    export GANTRAL_TOKEN=$(gantral identity mint --user my-agent --agent --team payments --ttl 30m)
    .venv/bin/python examples/integrations/langgraph_deploy.py

Decide as a tech lead from another terminal: `gantral requests list`, then approve,
reject or override (e.g. `{"version": "2.4.0"}`). Needs `pip install 'gantral[langgraph]'`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import gantral_sdk as sdk
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

from gantral.integrations import Guard, ToolRoute
from gantral.integrations.langgraph import governed_tools_node, resume_when_decided

RELEASE = {"service": "billing", "version": "2.4.1"}


@tool
def plan_release(service: str, version: str) -> str:
    """Draft the release plan."""
    return f"plan for {service} {version}: drain, roll, verify"


@tool
def deploy(service: str, version: str) -> str:
    """Roll the version out to production."""
    return f"deployed {service} {version}"


def scripted_model() -> GenericFakeChatModel:
    def call(name: str, i: int) -> AIMessage:
        args: dict[str, Any] = dict(RELEASE)
        return AIMessage("", tool_calls=[{"name": name, "args": args, "id": f"c{i}"}])

    return GenericFakeChatModel(
        messages=iter([call("plan_release", 0), call("deploy", 1), AIMessage("released")])
    )


def build(guard: Guard) -> Any:
    model = scripted_model()

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def next_node(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", governed_tools_node(guard, [plan_release, deploy]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", next_node, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=InMemorySaver())


async def run(client: sdk.AsyncGantralClient, workflow: str, team: str) -> list[ToolMessage]:
    """One instance per tool call, of `workflow`: `plan` is its free step, `deploy` the
    governed one. Returns the tool results the model saw."""
    routes = {"plan_release": ToolRoute("plan"), "deploy": ToolRoute("deploy", "deploy.run")}
    graph = build(Guard(client, workflow, team, routes, wait=1800))
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    state = await graph.ainvoke({"messages": [HumanMessage("release billing")]}, config)
    while state.get("__interrupt__"):
        for pending in state["__interrupt__"]:
            shown = pending.value["gantral"]
            print(
                f"paused: {shown['tool']} {shown['arguments']} waits for "
                f"{shown['required_approvers']} (request {shown['request_id']})",
                flush=True,
            )
        state = await graph.ainvoke(
            await resume_when_decided(client, state["__interrupt__"]), config
        )
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


async def main() -> None:
    auth = sdk.BearerToken(os.environ["GANTRAL_TOKEN"])
    url = os.environ.get("GANTRAL_URL", "http://127.0.0.1:8000")
    async with sdk.AsyncGantralClient(url, auth=auth) as client:
        for reply in await run(client, "deploy-service", "payments"):
            print(f"{reply.name}: {reply.content}  {reply.artifact}")


if __name__ == "__main__":
    asyncio.run(main())

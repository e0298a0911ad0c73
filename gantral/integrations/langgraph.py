"""LangGraph and LangChain tools governed by Gantral.

Two ways in, both through the SDK's governed step (grant bound to the arguments, single
use, overrides re-checked by policy, audited):

- `governed_tool(guard, tool)`: a LangChain tool that asks Gantral before each call and
  waits in-process for the decision (any LangChain agent, no checkpointer needed).
- `governed_tools_node(guard, tools)`: a LangGraph node (a ToolNode for governed tools).
  A call that needs a human pauses the graph with `interrupt`; resume it with
  `await resume_when_decided(client, result["__interrupt__"])` once Gantral decided (or
  any `Command(resume=...)`: the node trusts only the server's decision, and pauses again
  if there is none yet). The call then runs once with exactly the approved or overridden
  arguments, and its ToolMessage's `artifact["gantral"]` names the decision and actor.
  `governed_call(...)` is the same step for a node of your own.

Async graphs only (`ainvoke`/`astream`). Needs `pip install 'gantral[langgraph]'`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from gantral_sdk import AsyncGantralClient, _governed
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.config import get_config
from langgraph.func import task
from langgraph.types import Command, Interrupt, interrupt

from gantral.integrations._core import Decided, Guard, ToolRefused
from gantral.integrations._resume import ask, finish, pending_request, run_granted

__all__ = [
    "governed_call",
    "governed_tool",
    "governed_tools_node",
    "resume_when_decided",
]

ARTIFACT_KEY = "gantral"


def governed_tool(guard: Guard, tool: BaseTool, *, instance_id: str | None = None) -> BaseTool:
    """`tool`, asking Gantral first and running with the granted arguments only.

    A refusal is the tool's error output (`ToolMessage(status="error")`), so the agent
    sees who refused and why; the wrapped tool is not called.
    """

    async def run(**arguments: Any) -> tuple[Any, dict[str, Any]]:
        try:
            result, decided = await guard.call(
                tool.name, arguments, tool.ainvoke, instance_id=instance_id
            )
        except ToolRefused as exc:
            raise ToolException(str(exc)) from exc
        return result, {ARTIFACT_KEY: decided.as_dict()}

    return StructuredTool.from_function(
        coroutine=run,
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        response_format="content_and_artifact",
        handle_tool_error=True,
    )


@task
async def _ask(
    guard: Guard,
    tool: str,
    arguments: dict[str, Any],
    instance_id: str | None,
    call_key: str | None = None,
) -> dict[str, Any]:
    # A task: its result is checkpointed, so re-running the node on resume does not
    # authorize again (that would open a new request).
    return await ask(guard, tool, arguments, instance_id, call_key=call_key)


def _call_key(call_id: str) -> str | None:
    """The tool call's identity across pauses and edits of the graph's state: its thread,
    graph namespace and call id. None outside a checkpointed thread."""
    configurable = get_config().get("configurable", {})
    thread = configurable.get("thread_id")
    if thread is None or not call_id:
        return None
    # The namespace's node names, not its task ids (a new task after an edit).
    namespace = "|".join(
        part.split(":")[0] for part in str(configurable.get("checkpoint_ns", "")).split("|")
    )
    return f"langgraph:{thread}:{namespace}:{call_id}"


@task
async def _run(
    guard: Guard,
    asked: dict[str, Any],
    arguments: dict[str, Any],
    run: Callable[[dict[str, Any]], Awaitable[Any]],
) -> dict[str, Any]:
    # A task too: a node that pauses again later (another call) never re-runs this one.
    step = await finish(guard, asked, arguments)
    result, decided = await run_granted(guard, step, run, own_instance=asked["own_instance"])
    return {"result": result, "decided": decided.as_dict()}


async def governed_call(
    guard: Guard,
    tool: str,
    arguments: Mapping[str, Any],
    run: Callable[[dict[str, Any]], Awaitable[Any]],
    *,
    instance_id: str | None = None,
    call_id: str | None = None,
) -> tuple[Any, Decided]:
    """Inside a LangGraph node: authorize `tool(arguments)`, pause the graph while a human
    decides, then `run(granted_arguments)` once.

    `call_id` (the tool call's id): the call keeps its instance when the graph's state is
    edited while paused, so nothing asked or approved for the old arguments outlives it.

    Raises:
        ToolRefused: rejected, expired, cancelled, or `arguments` changed since they
            were authorized (e.g. the state was edited while paused).
    """
    key = _call_key(call_id) if call_id and instance_id is None else None
    asked = await _ask(guard, tool, dict(arguments), instance_id, key)
    shown = pending_request(asked)
    if shown is not None:
        iid, rid = asked["instance_id"], shown[ARTIFACT_KEY]["request_id"]
        while True:
            interrupt(shown)  # what it is resumed with is not trusted: the server decides
            request = await guard.client.get_request(iid, rid)
            if _governed.settled(request):
                break
    done = await _run(guard, asked, dict(arguments), run)
    decided = done["decided"]
    return done["result"], Decided(**decided)


def governed_tools_node(
    guard: Guard,
    tools: Sequence[BaseTool],
    *,
    messages_key: str = "messages",
    instance_id: str | None = None,
) -> Callable[[Mapping[str, Any]], Awaitable[dict[str, list[ToolMessage]]]]:
    """A node running the last AI message's tool calls, each a governed step."""
    by_name = {t.name: t for t in tools}

    async def node(state: Mapping[str, Any]) -> dict[str, list[ToolMessage]]:
        last = state[messages_key][-1]
        if not isinstance(last, AIMessage):
            raise ValueError(f"the last message is a {type(last).__name__}, not an AIMessage")
        replies: list[ToolMessage] = []
        for call in last.tool_calls:
            name, call_id = call["name"], call["id"] or ""
            tool = by_name.get(name)
            if tool is None:
                replies.append(_error(f"unknown tool {name!r}", name, call_id, "unknown_tool"))
                continue
            try:
                result, decided = await governed_call(
                    guard, name, call["args"], tool.ainvoke, instance_id=instance_id,
                    call_id=f"{last.id}:{call_id}" if last.id and call_id else None,
                )  # fmt: skip
            except ToolRefused as exc:
                replies.append(_error(str(exc), name, call_id, exc.reason))
                continue
            replies.append(
                ToolMessage(
                    content=str(result),
                    name=name,
                    tool_call_id=call_id,
                    artifact={ARTIFACT_KEY: decided.as_dict()},
                )
            )
        return {messages_key: replies}

    return node


def _error(text: str, name: str, call_id: str, reason: str) -> ToolMessage:
    return ToolMessage(
        content=text, name=name, tool_call_id=call_id, status="error",
        artifact={ARTIFACT_KEY: {"reason": reason}},
    )  # fmt: skip


async def resume_when_decided(
    client: AsyncGantralClient, interrupts: Sequence[Interrupt], *, wait: float = 3600.0
) -> Command[Any]:
    """Wait until Gantral decided every pending Gantral request among `interrupts`, then
    the `Command` that resumes the graph (decision status per interrupt, for display)."""
    resume: dict[str, Any] = {}
    for item in interrupts:
        shown = item.value.get(ARTIFACT_KEY) if isinstance(item.value, dict) else None
        if shown is None:
            continue
        request = await client.wait_for_decision(
            shown["instance_id"], shown["request_id"], wait=wait
        )
        resume[item.id] = {"request_id": request.request_id, "status": str(request.status)}
    return Command(resume=resume)

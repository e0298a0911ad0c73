"""CrewAI tools, and whole crew runs, governed by Gantral.

    guard = Guard(client, "deploy-service", "payments", {"deploy": "deploy"})
    agent = Agent(role="release", goal=..., backstory=..., tools=[governed_tool(guard, deploy)])
    crew = Crew(agents=[agent], tasks=[...])
    output = await crew.kickoff_async()           # the crew runs in a worker thread

`governed_tool(guard, tool)` is `tool` asking Gantral before each call, through the SDK's
governed step (arguments bound to the grant, single-use grants, overrides re-checked by
policy, audited). A call that needs a human waits in-process for the decision, as CrewAI's
own human input does; then the tool runs once with exactly the approved or overridden
arguments. A refusal is the tool's output, so the agent reads who refused and why.
`governed_kickoff(guard, crew, inputs)` makes a crew run itself a governed step: the crew
runs with the approved (or overridden) inputs, which its tasks are interpolated from.

CrewAI runs tools synchronously; Gantral's client is async. The governed tool sends each
call to the event loop it was created on, so the crew must run off that loop:
`await crew.kickoff_async()` (or `asyncio.to_thread(crew.kickoff)`). Needs
`pip install 'gantral[crewai]'`; set `CREWAI_DISABLE_TELEMETRY=true` to keep CrewAI's own
telemetry off the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from crewai import Crew, CrewOutput
from crewai.tools import BaseTool
from pydantic import PrivateAttr

from gantral.integrations._core import Decided, Guard, ToolRefused

__all__ = ["GovernedTool", "governed_kickoff", "governed_tool"]


class GovernedTool(BaseTool):
    """A CrewAI tool whose calls are Gantral governed steps (build it with `governed_tool`).

    `decisions` lists how each call that ran was authorized (decision id, actor, the
    arguments that ran), oldest first.
    """

    _guard: Guard = PrivateAttr()
    _inner: BaseTool = PrivateAttr()
    _loop: asyncio.AbstractEventLoop = PrivateAttr()
    _instance_id: str | None = PrivateAttr(default=None)
    _decisions: list[Decided] = PrivateAttr(default_factory=list)

    @property
    def decisions(self) -> list[Decided]:
        return list(self._decisions)

    def _generate_description(self) -> None:
        pass  # the wrapped tool's description is already CrewAI's full one

    def _run(self, *args: Any, **arguments: Any) -> Any:
        if args:
            raise TypeError(f"tool {self.name!r} takes keyword arguments only")
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            # Waiting here would block the loop the decision has to arrive on.
            raise RuntimeError(
                f"governed tool {self.name!r} was called on its own event loop: run the "
                "crew with `await crew.kickoff_async()` or in another thread"
            )
        return asyncio.run_coroutine_threadsafe(self._call(arguments), self._loop).result()

    async def _call(self, arguments: dict[str, Any]) -> Any:
        inner = self._inner

        async def run(granted: dict[str, Any]) -> Any:
            # The wrapped tool is synchronous CrewAI code: keep it off the loop.
            return await asyncio.to_thread(inner.run, **granted)

        try:
            result, decided = await self._guard.call(
                self.name, arguments, run, instance_id=self._instance_id
            )
        except ToolRefused as exc:
            return str(exc)  # the agent reads who refused and why; the tool never ran
        self._decisions.append(decided)
        return result


def _never_cache(_arguments: Any, _result: Any) -> bool:
    # A cached result would answer a later call without asking Gantral, or replay a refusal.
    return False


def governed_tool(
    guard: Guard,
    tool: BaseTool,
    *,
    instance_id: str | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> GovernedTool:
    """`tool`, asking Gantral first and running with the granted arguments only.

    Build it on the event loop that owns `guard.client` (or pass that `loop`). CrewAI's
    result cache is off for it: every call is asked.

    Raises:
        ToolRefused: `tool` has no route in `guard` (found now, not at the first call).
        RuntimeError: no `loop` was given and none is running.
    """
    guard.route(tool.name)
    governed = GovernedTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        result_as_answer=tool.result_as_answer,
        max_usage_count=tool.max_usage_count,
        cache_function=_never_cache,
    )
    governed._guard = guard
    governed._inner = tool
    governed._loop = loop or asyncio.get_running_loop()
    governed._instance_id = instance_id
    return governed


async def governed_kickoff(
    guard: Guard,
    crew: Crew,
    inputs: Mapping[str, Any],
    *,
    name: str = "kickoff",
    instance_id: str | None = None,
) -> tuple[CrewOutput, Decided]:
    """Run `crew` as the governed step `guard` routes `name` to, with `inputs` as its
    arguments: it starts only with a grant, on exactly the granted inputs.

    Raises:
        ToolRefused: rejected, expired, not decided in time, or not covered; the crew
            did not start.
    """

    async def run(granted: dict[str, Any]) -> CrewOutput:
        output = await crew.kickoff_async(inputs=granted)
        if not isinstance(output, CrewOutput):
            raise TypeError("a streaming crew cannot be governed by governed_kickoff")
        return output

    return await guard.call(name, inputs, run, instance_id=instance_id)

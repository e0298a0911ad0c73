"""The OpenAI Agents SDK's tool-approval hook, backed by Gantral.

    approvals = GantralApprovals(guard)
    agent = Agent(name="ops", tools=[approvals.govern(transfer)], model=...)
    result = await Runner.run(agent, "pay acme 200")
    while result.interruptions:                         # a human must decide in Gantral
        state = await approvals.resolve(result)         # waits; approves or rejects
        result = await Runner.run(agent, state)

`govern(tool)` sets the tool's `needs_approval` to ask Gantral (the call's step, with its
arguments): a call the policy allows runs at once; one that needs a human interrupts the
run. `resolve` waits for Gantral's decision and approves or rejects each interruption
(a rejection's text, naming who and why, is what the model sees). When the tool then
runs, it runs through the SDK's governed step: with exactly the granted arguments (an
override's edit, if any), once; arguments changed since the approval are refused.

Needs `pip install 'gantral[openai-agents]'`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from agents import FunctionTool, RunContextWrapper, RunResult, RunState
from agents.items import ToolApprovalItem
from agents.tool_context import ToolContext

from gantral.integrations._core import Decided, Guard, ToolRefused
from gantral.integrations._resume import ask, finish, pending_request, run_granted

__all__ = ["GantralApprovals"]


class GantralApprovals:
    """Gantral behind the Agents SDK's approvals, for the tools given to `govern`.

    Authorizations are kept in memory by call id between the interruption and the run;
    a call whose authorization is not here (another process) is asked again and waits
    in-process for the decision. `decisions` maps each call id that ran to its `Decided`.
    """

    def __init__(self, guard: Guard, *, instance_id: str | None = None) -> None:
        self.guard = guard
        self.instance_id = instance_id
        self.asked: dict[str, dict[str, Any]] = {}
        self.decisions: dict[str, Decided] = {}
        self.governed: set[str] = set()

    def govern(self, tool: FunctionTool) -> FunctionTool:
        """A copy of `tool` whose approval is Gantral's and whose body runs governed."""
        guard, name, body = self.guard, tool.name, tool.on_invoke_tool
        guard.route(name)  # an unrouted tool is a configuration error, found now
        self.governed.add(name)

        async def needs_approval(
            ctx: RunContextWrapper[Any], arguments: dict[str, Any], call_id: str
        ) -> bool:
            asked = self.asked.get(call_id)
            if asked is None:
                asked = await ask(guard, name, arguments, self.instance_id)
                self.asked[call_id] = asked
            return pending_request(asked) is not None

        async def invoke(ctx: ToolContext[Any], raw: str) -> Any:
            arguments = json.loads(raw or "{}")

            async def run(granted: dict[str, Any]) -> Any:
                return await body(ctx, json.dumps(granted))

            try:
                asked = self.asked.pop(ctx.tool_call_id, None)
                if asked is None:
                    result, decided = await guard.call(
                        name, arguments, run, instance_id=self.instance_id
                    )
                else:
                    step = await finish(guard, asked, arguments)
                    own = bool(asked["own_instance"])
                    result, decided = await run_granted(guard, step, run, own_instance=own)
            except ToolRefused as exc:
                return str(exc)  # the model sees who refused and why; the body never ran
            self.decisions[ctx.tool_call_id] = decided
            return result

        return dataclasses.replace(tool, needs_approval=needs_approval, on_invoke_tool=invoke)

    async def resolve(self, result: RunResult | RunState[Any, Any]) -> RunState[Any, Any]:
        """Wait for Gantral's decision on every governed interruption, and record it as the
        run's approval or rejection. Returns the state to run again."""
        state = result.to_state() if isinstance(result, RunResult) else result
        for item in state.get_interruptions():
            call_id, name = _call_id(item), item.tool_name or ""
            asked = self.asked.get(call_id)
            if asked is None and name in self.governed:
                # The SDK asked for manual approval without calling the hook (arguments
                # it could not inspect): ask Gantral now, with the call's own arguments.
                asked = await ask(self.guard, name, _arguments(item), self.instance_id)
                self.asked[call_id] = asked
            if asked is None:
                continue  # not ours: the application approves it as it sees fit
            try:
                # Waits for the decision; raises the SDK's refusal, with who and why.
                await finish(self.guard, asked, asked["arguments"])
            except ToolRefused as exc:
                state.reject(item, rejection_message=str(exc))
                self.asked.pop(call_id, None)
            else:
                state.approve(item)
        return state


def _field(item: ToolApprovalItem, key: str) -> Any:
    raw = item.raw_item
    return raw.get(key) if isinstance(raw, dict) else getattr(raw, key, None)


def _call_id(item: ToolApprovalItem) -> str:
    return str(_field(item, "call_id") or "")


def _arguments(item: ToolApprovalItem) -> dict[str, Any]:
    raw = _field(item, "arguments")
    parsed = json.loads(raw) if isinstance(raw, str) and raw else {}
    return parsed if isinstance(parsed, dict) else {}

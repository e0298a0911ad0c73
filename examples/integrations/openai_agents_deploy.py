"""The OpenAI Agents SDK, governed: Gantral is the `deploy` tool's approval hook.

The model is the Agents SDK's own `ScriptedModel` (no LLM, no network): it asks to
deploy billing 2.4.1. The run stops with an interruption; `approvals.resolve` waits
for Gantral's decision and approves or rejects it; the run resumes and the tool runs
with exactly what was granted (an override's edit, if any).

    make run                                                     # the local stack
    export GANTRAL_TOKEN=$(gantral identity mint --user my-agent --agent --team payments --ttl 30m)
    .venv/bin/python examples/integrations/openai_agents_deploy.py

Decide as a tech lead from another terminal (`gantral requests list`, then decide).
Needs `pip install 'gantral[openai-agents]'`.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import gantral_sdk as sdk
from agents import Agent, RunConfig, Runner, function_tool
from agents.testing import ScriptedModel, assistant_message, function_call

from gantral.integrations import Guard, ToolRoute
from gantral.integrations.openai_agents import GantralApprovals

RELEASE = {"service": "billing", "version": "2.4.1"}
OFFLINE = RunConfig(tracing_disabled=True)


@function_tool
def deploy(service: str, version: str) -> str:
    """Roll the version out to production."""
    return f"deployed {service} {version}"


async def run(client: sdk.AsyncGantralClient, workflow: str, team: str) -> tuple[Any, Any]:
    """Returns the run's final output and how the deploy was decided."""
    guard = Guard(client, workflow, team, {"deploy": ToolRoute("deploy", "deploy.run")}, wait=1800)
    approvals = GantralApprovals(guard)
    model = ScriptedModel(
        [[function_call("deploy", RELEASE, call_id="c1")], [assistant_message("released")]]
    )
    agent: Agent[Any] = Agent(name="release", tools=[approvals.govern(deploy)], model=model)
    result = await Runner.run(agent, "release billing", run_config=OFFLINE)
    while result.interruptions:
        print(f"paused: {[i.tool_name for i in result.interruptions]} wait for Gantral", flush=True)
        result = await Runner.run(agent, await approvals.resolve(result), run_config=OFFLINE)
    return result.final_output, approvals.decisions.get("c1")


async def main() -> None:
    auth = sdk.BearerToken(os.environ["GANTRAL_TOKEN"])
    url = os.environ.get("GANTRAL_URL", "http://127.0.0.1:8000")
    async with sdk.AsyncGantralClient(url, auth=auth) as client:
        output, decided = await run(client, "deploy-service", "payments")
        print(output, decided)


if __name__ == "__main__":
    asyncio.run(main())

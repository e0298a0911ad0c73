"""CrewAI, governed: a crew whose `deploy` tool waits for Gantral before it runs.

The crew's LLM is scripted (no model, no network): a CrewAI `BaseLLM` that answers in
CrewAI's own ReAct format, asking to plan and then to deploy billing 2.4.1. `plan`
runs at once (no policy); `deploy` needs a TECH_LEAD, so the tool call waits while a
human decides in Gantral, then runs with exactly what was granted (an override's edit,
if any). A refusal is what the agent reads instead of the tool's result.

    make run                                                     # the local stack
    export GANTRAL_TOKEN=$(gantral identity mint --user my-agent --agent --team payments --ttl 30m)
    .venv/bin/python examples/integrations/crewai_deploy.py

Decide as a tech lead from another terminal: `gantral requests list`, then approve,
reject or override (e.g. `{"version": "2.4.0"}`). Needs `pip install 'gantral[crewai]'`.
"""

from __future__ import annotations

import os

# CrewAI's own telemetry and trace prompts stay off (set before crewai is imported).
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

import asyncio
import json
from typing import Any

import gantral_sdk as sdk
from crewai import Agent, BaseLLM, Crew, Task
from crewai.tools import tool

from gantral.integrations import Decided, Guard, ToolRoute
from gantral.integrations.crewai import governed_tool

RELEASE = {"service": "billing", "version": "2.4.1"}


@tool("plan_release")
def plan_release(service: str, version: str) -> str:
    """Draft the release plan."""
    return f"plan for {service} {version}: drain, roll, verify"


@tool("deploy")
def deploy(service: str, version: str) -> str:
    """Roll the version out to production."""
    return f"deployed {service} {version}"


class ScriptedLLM(BaseLLM):
    """Plans, deploys, then answers with the last tool result it was shown."""

    def __init__(self) -> None:
        super().__init__(model="scripted")
        self.turns = [self.act("plan_release"), self.act("deploy")]

    @staticmethod
    def act(name: str) -> str:
        return f"Thought: next step\nAction: {name}\nAction Input: {json.dumps(RELEASE)}"

    def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        if self.turns:
            return self.turns.pop(0)
        last = str(messages[-1]["content"]) if isinstance(messages, list) else str(messages)
        seen = last.rsplit("Observation:", 1)[-1].strip()
        return f"Thought: I now know the final answer\nFinal Answer: {seen}"

    def supports_function_calling(self) -> bool:
        return False


async def run(
    client: sdk.AsyncGantralClient, workflow: str, team: str
) -> tuple[str, list[Decided]]:
    """One instance per tool call, of `workflow`: `plan` is its free step, `deploy` the
    governed one. Returns the crew's answer and how each deploy was decided."""
    routes = {"plan_release": ToolRoute("plan"), "deploy": ToolRoute("deploy", "deploy.run")}
    guard = Guard(client, workflow, team, routes, wait=1800)
    governed_deploy = governed_tool(guard, deploy)  # built on this event loop
    agent = Agent(
        role="release engineer", goal="release what you are asked", backstory="careful",
        llm=ScriptedLLM(), tools=[governed_tool(guard, plan_release), governed_deploy],
        allow_delegation=False, verbose=False,
    )  # fmt: skip
    task = Task(description="Release billing 2.4.1.", expected_output="the outcome", agent=agent)
    crew = Crew(agents=[agent], tasks=[task], verbose=False)
    print("the crew runs; deploy waits for Gantral", flush=True)
    output = await crew.kickoff_async()  # in a worker thread: this loop serves Gantral
    return str(output), governed_deploy.decisions


async def main() -> None:
    auth = sdk.BearerToken(os.environ["GANTRAL_TOKEN"])
    url = os.environ.get("GANTRAL_URL", "http://127.0.0.1:8000")
    async with sdk.AsyncGantralClient(url, auth=auth) as client:
        answer, decisions = await run(client, "deploy-service", "payments")
        print(answer, decisions)


if __name__ == "__main__":
    asyncio.run(main())

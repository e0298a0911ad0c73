"""An agent's first call after its start costs no extra Temporal round trips (issue 28):
the facts fixed at start (owning team, workflow) come from the start this process relayed,
not from a describe and a Query per fact."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import (
    Client,
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    WorkflowExecutionDescription,
)

from gantral.domain.actors import Actor, ActorKind
from gantral.settings import Settings
from gantral.workers.worker import build_worker
from gantral.workflows.messages import AuthorizeOutcome, AuthorizeStep
from tests.helpers.own_queue import deploy_core, start_deploy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

AGENT = Actor(id="agent-1", kind=ActorKind.AGENT)


class Counting(Interceptor):
    """Counts the describe and Query calls a client makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Counted(next, self.calls)


class _Counted(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, calls: list[str]) -> None:
        super().__init__(next)
        self._calls = calls

    async def describe_workflow(self, input: DescribeWorkflowInput) -> WorkflowExecutionDescription:
        self._calls.append("describe")
        return await super().describe_workflow(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self._calls.append(f"query {input.query}")
        return await super().query_workflow(input)


async def test_the_first_authorize_after_a_start_reads_nothing_back(
    temporal: Client, settings: Settings, workers: None
) -> None:
    counting = Counting()
    client = Client(**{**temporal.config(), "interceptors": [counting]})
    own, core = await deploy_core(client, settings, "first-call")
    async with build_worker(temporal, own):
        iid = await start_deploy(core, AGENT)
        assert await core.owning_team(iid) == "payments"
        assert await core.workflow_of(iid) == "deploy"
        allowed = await core.authorize(iid, AuthorizeStep(step_id="plan", actor=AGENT))
        assert allowed.outcome is AuthorizeOutcome.ALLOW
        assert counting.calls == []
        # Another process (a replica that did not relay the start) reads them once.
        _, other = await deploy_core(client, own, "first-call")
        assert await other.owning_team(iid) == "payments"
        assert counting.calls == ["describe", "query owning_team"]
        assert await other.owning_team(iid) == "payments"
        assert len(counting.calls) == 2

"""The SDK against the real stack: an agent's governed step, decided by a human over the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import gantral_sdk as sdk
import httpx
import pytest
import pytest_asyncio

from tests.helpers.auth import token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ARGS: dict[str, Any] = {"service": "billing", "version": "2.4.1", "replicas": 3}
CONTEXT = {"env": "production", "change": "CHG-1042"}


@pytest_asyncio.fixture(loop_scope="session")
async def agent(api: httpx.AsyncClient) -> AsyncIterator[sdk.AsyncGantralClient]:
    async with sdk.AsyncGantralClient(
        http=api, auth=sdk.BearerToken(token("agent-7", agent=True)), poll_wait=5
    ) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def alice(api: httpx.AsyncClient) -> AsyncIterator[sdk.AsyncGantralClient]:
    # A tech lead who approves and (as supervisor) may override for team payments.
    auth = sdk.BearerToken(token("alice", ["TECH_LEAD", "approver", "supervisor"]))
    async with sdk.AsyncGantralClient(http=api, auth=auth) as client:
        yield client


async def pending_request(
    human: sdk.AsyncGantralClient, instance_id: str, timeout: float = 20
) -> sdk.HumanRequest:
    """What an approver's inbox shows: the instance's pending request, once there is one."""
    async with asyncio.timeout(timeout):
        while True:
            view = await human.get_instance(instance_id)
            if view.pending_request is not None:
                return view.pending_request
            await asyncio.sleep(0.1)


async def test_agent_runs_exactly_what_alice_approved(
    agent: sdk.AsyncGantralClient, alice: sdk.AsyncGantralClient
) -> None:
    inst = await agent.start_instance("deploy", "payments", {"ticket": "CHG-1042"})
    iid = inst.instance_id
    async with agent.governed_step(iid, "plan", arguments={}) as plan:
        assert plan.outcome == "ALLOW"

    async def approve() -> sdk.DecisionResult:
        request = await pending_request(alice, iid)
        # The approver checks what they are shown, with the digest computed on their side.
        seen = sdk.args_digest(request.action, request.arguments)
        assert request.arguments == ARGS and seen == request.args_digest
        return await alice.decide(
            iid, request.request_id, sdk.DecisionType.APPROVE, seen_args_digest=seen
        )

    approval = asyncio.create_task(approve())
    ran: list[dict[str, Any]] = []
    async with agent.governed_step(
        iid, "deploy", action="deploy.run", arguments=ARGS, context=CONTEXT, wait=60
    ) as step:
        ran.append(dict(step.arguments))
        step.detail["rollout"] = "ok"
    decision = await approval

    assert ran == [ARGS]
    assert step.outcome == "APPROVED" and not step.overridden
    assert step.args_digest == sdk.args_digest("deploy.run", ARGS)
    assert step.grant.args_digest == step.args_digest
    assert step.request is not None
    assert step.request.request_id == decision.decision.request_id
    assert decision.decision.human_actor_id == "alice"
    assert decision.decision.args_digest == step.args_digest

    # The grant was single use: presenting it again is refused with the server's reason.
    with pytest.raises(sdk.Conflict) as reused:
        await agent.report(
            iid, sdk.AgentEventKind.STEP_STARTED, step_id="deploy",
            grant_id=step.grant.grant_id, args_digest=step.args_digest,
        )  # fmt: skip
    assert reused.value.reason == "grant_reused"

    await agent.report_cost(iid, tokens=900, money=0.12, wall_time_seconds=4.0)
    final = await agent.complete(iid)
    assert final.state is sdk.State.COMPLETED
    assert final.cost.tokens == 900
    assert [t.to_state for t in final.transitions] == [
        sdk.State.RUNNING, sdk.State.WAITING_FOR_HUMAN, sdk.State.APPROVED,
        sdk.State.RESUMED, sdk.State.RUNNING, sdk.State.COMPLETED,
    ]  # fmt: skip


async def test_override_runs_the_edited_arguments(
    agent: sdk.AsyncGantralClient, alice: sdk.AsyncGantralClient
) -> None:
    iid = (await agent.start_instance("deploy", "payments")).instance_id

    @agent.governed("deploy", action="deploy.run", context=CONTEXT, wait=60)
    async def deploy(*, service: str, version: str, replicas: int) -> str:
        return f"{service}@{version}x{replicas}"

    async def override() -> None:
        request = await pending_request(alice, iid)
        await alice.decide(
            iid, request, "OVERRIDE",
            justification="2.4.1 fails canary; ship the last good build",
            context_delta={"version": "2.4.0"},
        )  # fmt: skip

    decided = asyncio.create_task(override())
    assert await deploy(iid, **ARGS) == "billing@2.4.0x3"
    await decided
    view = await agent.get_instance(iid)
    assert view.requests[0].status is sdk.RequestStatus.OVERRIDDEN
    assert view.requests[0].grant is not None
    assert view.requests[0].grant.args_digest == sdk.args_digest(
        "deploy.run", {**ARGS, "version": "2.4.0"}
    )


async def test_rejection_never_runs_the_step(
    agent: sdk.AsyncGantralClient, alice: sdk.AsyncGantralClient
) -> None:
    iid = (await agent.start_instance("deploy", "payments")).instance_id

    async def reject() -> None:
        request = await pending_request(alice, iid)
        # The request as shown: its id and its digest are what the rejection names.
        await alice.decide(iid, request, "REJECT", justification="freeze week")

    decided = asyncio.create_task(reject())
    with pytest.raises(sdk.StepRejected) as info:
        async with agent.governed_step(iid, "deploy", action="deploy.run", arguments=ARGS):
            pytest.fail("a rejected step must not run")
    await decided
    assert info.value.request is not None
    # Who refused and why, as the TypeScript and Go SDKs say it.
    assert str(info.value).endswith(" was REJECTED by alice (TECH_LEAD, via api): freeze week")
    assert info.value.decision is not None and info.value.decision.human_actor_id == "alice"
    assert (await agent.get_instance(iid)).state is sdk.State.TERMINATED


async def test_api_errors_arrive_typed(
    agent: sdk.AsyncGantralClient, api: httpx.AsyncClient
) -> None:
    with pytest.raises(sdk.NotFound):
        await agent.get_instance("no-such-instance")
    with pytest.raises(sdk.InvalidInput) as bad:
        await agent.start_instance("deploy", "bad team with spaces")
    assert bad.value.reason == "validation_failed"
    anonymous = sdk.AsyncGantralClient(http=api)
    with pytest.raises(sdk.Unauthenticated) as info:
        await anonymous.get_instance("x")
    assert info.value.reason == "missing_token"

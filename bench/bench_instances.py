"""Governed instances per second on a real local stack, against raw Temporal in the same run.

One governed instance is the full human-in-the-loop path: start, authorize a governed step
(PENDING), a human APPROVE (Update, validator, quorum, grant), start the step with its
grant, complete, seal; every fact stored by the audit sink in PostgreSQL, and no grant
usable before the facts that authorize it are. The baseline is the bare Temporal pattern
underneath on the same server: start, one activity, wait for a signal, complete. The
ratio says what governance and fail-closed audit cost, independent of the machine.

    .venv/bin/python bench/bench_instances.py [--instances 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import timedelta

from stack import bench_stack
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

TEMPLATE = """
id: bench
steps:
  - id: deploy
    policy:
      materiality: HIGH
      requires_human_approval: true
      approvers: [{role: TECH_LEAD}]
      timeouts: {primary: 1h}
"""


@activity.defn
async def touch(value: str) -> str:
    return value


@workflow.defn
class Baseline:
    def __init__(self) -> None:
        self._go = False

    @workflow.run
    async def run(self, value: str) -> str:
        await workflow.execute_activity(touch, value, start_to_close_timeout=timedelta(seconds=10))
        await workflow.wait_condition(lambda: self._go)
        return value

    @workflow.signal
    def go(self) -> None:
        self._go = True


async def _baseline(client: Client, n: int) -> float:
    queue = f"baseline-{uuid.uuid4().hex[:6]}"

    async def one(i: int) -> None:
        handle = await client.start_workflow(
            Baseline.run, str(i), id=f"baseline-{queue}-{i}", task_queue=queue
        )
        await handle.signal(Baseline.go)
        await handle.result()

    async with Worker(client, task_queue=queue, workflows=[Baseline], activities=[touch]):
        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - began


async def _governed(client: Client, settings: object, n: int) -> tuple[float, list[float]]:
    from gantral.core import GantralCore
    from gantral.domain.actors import Actor, ActorKind
    from gantral.domain.records import DecisionType
    from gantral.policy.loading import load_template
    from gantral.policy.registry import InMemoryRegistry
    from gantral.settings import Settings
    from gantral.workflows.messages import (
        AgentEvent,
        AgentEventKind,
        AuthorizeStep,
        Decide,
        Finish,
        FinishKind,
    )

    assert isinstance(settings, Settings)
    registry = InMemoryRegistry()
    await registry.put_template(load_template(TEMPLATE))
    core = GantralCore(client, settings, registry)
    agent = Actor(id="bench-agent", kind=ActorKind.AGENT)
    lead = Actor(id="alice", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])
    decision_latency: list[float] = []

    async def one() -> None:
        view, _ = await core.start_instance(
            workflow_id="bench", workflow_version=None, owning_team_id="bench",
            trigger_context={}, idempotency_key=None, actor=agent,
        )  # fmt: skip
        iid = view.instance_id
        pending = await core.authorize(
            iid, AuthorizeStep(step_id="deploy", arguments={"v": 1}, actor=agent)
        )
        assert pending.request is not None
        t = time.perf_counter()
        await core.decide(
            iid,
            Decide(
                request_id=pending.request.request_id, decision_type=DecisionType.APPROVE,
                actor=lead, role="TECH_LEAD", idempotency_key=uuid.uuid4().hex,
                seen_args_digest=pending.request.args_digest,
            ),
        )  # fmt: skip
        decision_latency.append(time.perf_counter() - t)
        request = await core.get_request(iid, pending.request.request_id, wait=10)
        assert request.grant is not None
        await core.report(
            iid,
            AgentEvent(
                kind=AgentEventKind.STEP_STARTED, step_id="deploy", actor=agent,
                grant_id=request.grant.grant_id, args_digest=request.grant.args_digest,
            ),
        )  # fmt: skip
        await core.finish(iid, Finish(kind=FinishKind.COMPLETE, actor=agent))

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - began, decision_latency


async def main(n: int) -> None:
    async with bench_stack("bench-instances") as stack:
        await _governed(stack.client, stack.settings, 5)  # warm up imports, pools, sandbox
        base = await _baseline(stack.client, n)
        governed, latency = await _governed(stack.client, stack.settings, n)
    print(f"instances: {n} concurrent, Temporal dev server (SQLite file), 2-core machine")
    print(f"baseline (start, activity, signal, complete): {n / base:8.1f} workflows/s")
    print(f"governed (authorize, approve, grant, audited): {n / governed:8.1f} instances/s")
    print(f"ratio governed/baseline throughput: {base / governed:.2f}")
    p50 = statistics.median(latency) * 1000
    print(f"decision round trip (Update + audited transitions): p50 {p50:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=100, help="instances run concurrently")
    asyncio.run(main(parser.parse_args().instances))

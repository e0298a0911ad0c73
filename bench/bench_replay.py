"""Replay speed: events/s, and the time to replay a typical instance and a long-lived one.

Both instances are made here, by today's code, on a real Temporal dev server with the
real instance worker (the audit sink is a local fake under the real activity name:
replay never runs activities, and no database is needed to make a history). The typical
instance is the approve scenario: start, a governed step pending, a human approval, the
grant used, completion and cost, seal. The long-lived one is a governed instance receiving
agent cost reports until its history holds 10,000 events.

Each figure is the median of several replays of `gantral.replay.replayer.replay_runs`
(Temporal's replayer plus the capture of every audit event today's code sends), and the
whole report for the long instance (replay, audit comparison, timeline).

    .venv/bin/python bench/bench_replay.py [--events 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from temporalio import activity
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from gantral.audit.checkpoint import generate_key_pem
from gantral.audit.encoding import GENESIS, chain_hash, encode_body
from gantral.audit.history_codec import fetch_runs
from gantral.audit.rows import EventRow
from gantral.audit.snapshots import prepare_snapshot
from gantral.core import GantralCore
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import (
    AUDIT_APPEND_ACTIVITY,
    AppendAuditEvents,
    AppendResult,
    StoredEvent,
)
from gantral.domain.records import Cost, DecisionType
from gantral.policy.loading import load_template
from gantral.policy.registry import InMemoryRegistry
from gantral.replay.history import read_content
from gantral.replay.replayer import replay_runs
from gantral.replay.service import build_report
from gantral.settings import Settings
from gantral.workers.worker import build_worker
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.messages import (
    AgentEvent,
    AgentEventKind,
    AuthorizeStep,
    Decide,
    Finish,
    FinishKind,
)
from gantral.workflows.sandbox import SANDBOX_RUNNER

AGENT = Actor(id="bench-agent", kind=ActorKind.AGENT)
LEAD = Actor(id="bench-lead", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])
TEMPLATE = """
id: bench
steps:
  - id: act
    policy: {requires_human_approval: true, approvers: [{role: TECH_LEAD}]}
"""


class FakeSink:
    """Chains events like the sink (no storage): the workflow gets real hashes back."""

    def __init__(self) -> None:
        self.heads: dict[str, bytes] = {}

    @activity.defn(name=AUDIT_APPEND_ACTIVITY)
    async def append(self, batch: AppendAuditEvents) -> AppendResult:
        stored = []
        for event in batch.events:
            ref = None if event.snapshot is None else prepare_snapshot(event.snapshot, [])[1]
            digest = chain_hash(self.heads.get(event.instance_id, GENESIS), encode_body(event, ref))
            self.heads[event.instance_id] = digest
            stored.append(StoredEvent(seq=event.seq, hash=digest.hex()))
        return AppendResult(stored=stored)


async def _timed(runs: list[WorkflowHistory], repeat: int) -> tuple[float, int]:
    times = []
    for _ in range(repeat):
        outcome = await replay_runs(runs, [InstanceWorkflow], SANDBOX_RUNNER)
        assert not outcome.failures, outcome.failures[0].message
        times.append(outcome.seconds)
    return statistics.median(times), outcome.events


def _rows(runs: list[WorkflowHistory]) -> list[EventRow]:
    rows, prev = [], GENESIS
    for i, event in enumerate(read_content(runs).audit_events):
        ref = None if event.snapshot is None else prepare_snapshot(event.snapshot, [])[1]
        body = encode_body(event, ref)
        digest = chain_hash(prev, body)
        rows.append(EventRow(i, event.instance_id, event.seq, str(event.type), body, prev, digest))
        prev = digest
    return rows


async def _approve(core: GantralCore) -> str:
    """The typical governed instance, as tests/replay records it."""
    view, _ = await core.start_instance(
        workflow_id="bench", workflow_version=None, owning_team_id="bench",
        trigger_context={}, idempotency_key=None, actor=AGENT,
    )  # fmt: skip
    iid = view.instance_id
    step = AuthorizeStep(step_id="act", action="act", arguments={"n": 1}, actor=AGENT)
    pending = await core.authorize(iid, step)
    assert pending.request is not None
    rid = pending.request.request_id
    await core.decide(iid, Decide(request_id=rid, decision_type=DecisionType.APPROVE,
                                  actor=LEAD, idempotency_key=uuid.uuid4().hex,
                                  seen_args_digest=pending.args_digest))  # fmt: skip
    grant = (await core.get_request(iid, rid, wait=10)).grant
    assert grant is not None
    for event in (
        AgentEvent(kind=AgentEventKind.STEP_STARTED, step_id="act", grant_id=grant.grant_id,
                   args_digest=pending.args_digest, actor=AGENT),
        AgentEvent(kind=AgentEventKind.STEP_COMPLETED, step_id="act", actor=AGENT),
        AgentEvent(kind=AgentEventKind.COST, cost=Cost(tokens=1200, money=0.42), actor=AGENT),
    ):  # fmt: skip
        await core.report(iid, event)
    await core.finish(iid, Finish(kind=FinishKind.COMPLETE, actor=AGENT))
    return iid


async def _long_lived(core: GantralCore, client: Client, events: int) -> str:
    view, _ = await core.start_instance(
        workflow_id="bench", workflow_version=None, owning_team_id="bench",
        trigger_context={}, idempotency_key=None, actor=AGENT,
    )  # fmt: skip
    iid = view.instance_id
    handle = client.get_workflow_handle(iid)
    made = 0
    while made < events - 20:
        for _ in range(50):
            cost = Cost(tokens=10, money=0.01, wall_time_seconds=0.1)
            await core.report(iid, AgentEvent(kind=AgentEventKind.COST, cost=cost, actor=AGENT))
        made = len((await handle.fetch_history()).events)
        print(f"  made {made} history events", end="\r", flush=True)
    print()
    await core.finish(iid, Finish(kind=FinishKind.COMPLETE, actor=AGENT))
    return iid


async def _histories(events: int) -> tuple[list[WorkflowHistory], list[WorkflowHistory]]:
    """A typical and a long-lived instance's histories, made on a local Temporal server."""
    from gantral.devstack.process import free_port
    from gantral.devstack.services import start_temporal

    data = Path(tempfile.mkdtemp(prefix="gantral-bench-replay-"))
    port = free_port()
    server = start_temporal(data / "temporal", port, ui_port=None)
    try:
        key, _ = generate_key_pem()
        suffix = uuid.uuid4().hex[:8]
        settings = Settings.model_validate(
            {
                "temporal": {
                    "address": f"127.0.0.1:{port}",
                    "task_queue": f"bench-{suffix}",
                    "audit_task_queue": f"bench-audit-{suffix}",
                },
                "attestation": {"signing_key": key},
            }
        )
        client = await Client.connect(
            settings.temporal.address, data_converter=pydantic_data_converter
        )
        registry = InMemoryRegistry()
        await registry.put_template(load_template(TEMPLATE))
        core = GantralCore(client, settings, registry)
        sink = Worker(
            client, task_queue=settings.temporal.audit_task_queue, activities=[FakeSink().append]
        )
        async with sink, build_worker(client, settings):
            typical = await _approve(core)
            long_lived = await _long_lived(core, client, events)
            for iid in (typical, long_lived):
                await client.get_workflow_handle(iid).result()
            return await fetch_runs(client, typical), await fetch_runs(client, long_lived)
    finally:
        server.stop()


async def main(events: int, repeat: int) -> None:
    print(f"making a typical and a long-lived (~{events} events) instance on Temporal...")
    typical, long_runs = await _histories(events)
    seconds, n = await _timed(typical, repeat)
    print(f"typical instance (approve): {n} events in {seconds * 1000:.1f} ms"
          f" ({n / seconds:,.0f} events/s)")  # fmt: skip
    seconds, n = await _timed(long_runs, repeat)
    print(f"long-lived instance: {n} events in {seconds:.2f} s ({n / seconds:,.0f} events/s)")
    rows = _rows(long_runs)
    started = time.perf_counter()
    outcome = await replay_runs(long_runs, [InstanceWorkflow], SANDBOX_RUNNER)
    report = build_report(rows[0].instance_id, rows, long_runs, "temporal", outcome,
                          sealed=True, checkpoint=None, attestor=None)  # fmt: skip
    total = time.perf_counter() - started
    assert report.match, report.first_divergence
    print(f"long-lived full report (replay + {len(rows)} audit events compared): {total:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.repeat))

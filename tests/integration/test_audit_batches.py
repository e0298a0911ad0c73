"""How an instance's audit batches travel to the sink (issue 28): a grant's batch is sent
at once, repeating a report's batch still in flight, so the grant waits for one sink round
trip, not two; a step's start waits up to a second for a batch that carries it anyway.

The sink here is a stand-in on the instance's own audit queue that the test holds and
releases, so which batch is in flight when is decided by the test, not by timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from gantral.core import GantralCore
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import (
    AUDIT_APPEND_ACTIVITY,
    AppendAuditEvents,
    AppendResult,
    StoredEvent,
)
from gantral.domain.records import Grant
from gantral.settings import Settings
from gantral.workers.worker import build_worker
from gantral.workflows.messages import (
    AgentEvent,
    AgentEventKind,
    AuthorizeOutcome,
    AuthorizeStep,
    Finish,
    FinishKind,
)
from tests.helpers.auth import AUDITOR
from tests.helpers.lifecycle import start
from tests.helpers.own_queue import deploy_core, start_deploy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

AGENT = Actor(id="agent-1", kind=ActorKind.AGENT)


class HeldSink:
    """The audit append activity: records each batch's seqs and answers it once released
    (at once while not `holding`). Heartbeats while held, as the real sink does."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.answered: set[int] = set()
        self.holding = False
        self._gates: dict[int, asyncio.Event] = {}

    def _gate(self, index: int) -> asyncio.Event:
        return self._gates.setdefault(index, asyncio.Event())

    def release(self, index: int) -> None:
        self._gate(index).set()

    async def batch(self, index: int, timeout: float = 20.0) -> list[int]:
        """The `index`th batch, once it arrived."""
        async with asyncio.timeout(timeout):
            while len(self.batches) <= index:
                await asyncio.sleep(0.02)
        return self.batches[index]

    @activity.defn(name=AUDIT_APPEND_ACTIVITY)
    async def append(self, request: AppendAuditEvents) -> AppendResult:
        index = len(self.batches)
        self.batches.append([e.seq for e in request.events])
        gate = self._gate(index)
        if not self.holding:
            gate.set()
        while not gate.is_set():
            activity.heartbeat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gate.wait(), 1.0)
        self.answered.add(index)
        stored = [StoredEvent(seq=e.seq, hash=f"{e.seq:064x}") for e in request.events]
        return AppendResult(stored=stored)


@contextlib.asynccontextmanager
async def _granted(
    temporal: Client, settings: Settings
) -> AsyncIterator[tuple[GantralCore, HeldSink, str, Grant]]:
    """An instance on queues of its own, served by the instance worker and the held sink,
    with the grant of its first authorize (the sink not holding yet)."""
    own, core = await deploy_core(
        temporal, settings, "batches", audit_task_queue=f"held-audit-{uuid.uuid4().hex[:8]}"
    )
    sink = HeldSink()
    audit = Worker(temporal, task_queue=own.temporal.audit_task_queue, activities=[sink.append])
    async with build_worker(temporal, own), audit:
        iid = await start_deploy(core, AGENT)
        allowed = await core.authorize(iid, AuthorizeStep(step_id="plan", actor=AGENT))
        assert allowed.grant is not None
        yield core, sink, iid, allowed.grant


def _started(grant: Grant) -> AgentEvent:
    return AgentEvent(
        kind=AgentEventKind.STEP_STARTED, step_id="plan", grant_id=grant.grant_id,
        args_digest=grant.args_digest, actor=AGENT,
    )  # fmt: skip


async def test_a_grant_is_stored_at_once_while_a_reports_batch_is_in_flight(
    temporal: Client, settings: Settings
) -> None:
    async with _granted(temporal, settings) as (core, sink, iid, grant):
        before = len(sink.batches)
        sink.holding = True
        await core.report(iid, _started(grant))
        await core.report(iid, AgentEvent(kind=AgentEventKind.STEP_COMPLETED, step_id="plan",
                                          actor=AGENT))  # fmt: skip
        held = await sink.batch(before)  # the reports' batch, held by the sink
        step = AuthorizeStep(step_id="plan", actor=AGENT, arguments={"n": 2})
        second = asyncio.create_task(core.authorize(iid, step))
        grants_batch = await sink.batch(before + 1)
        # Sent while the reports' batch is in flight, repeating it from its first event.
        assert grants_batch[0] == held[0] and grants_batch[-1] > held[-1]
        sink.release(before + 1)
        allowed = await asyncio.wait_for(second, 20)
        assert allowed.outcome is AuthorizeOutcome.ALLOW and allowed.grant is not None
        assert before not in sink.answered  # the grant never waited for the held batch
        sink.holding = False
        for index in range(len(sink.batches)):
            sink.release(index)
        view = await core.get_instance(iid)
        async with asyncio.timeout(20):
            while view.audit_head != f"{view.audit_events:064x}":
                await asyncio.sleep(0.05)
                view = await core.get_instance(iid)
        # Every event stored once, in order: the chain's head is the last event's.
        assert view.audit_events == grants_batch[-1]


async def test_a_step_start_alone_is_stored_after_its_deferral(
    temporal: Client, settings: Settings
) -> None:
    async with _granted(temporal, settings) as (core, sink, iid, grant):
        before = len(sink.batches)
        loop = asyncio.get_running_loop()
        sent = loop.time()
        await core.report(iid, _started(grant))
        batch = await sink.batch(before)
        assert loop.time() - sent >= 0.9  # waited for a batch to carry it, then went alone
        assert batch[-1] == (await core.get_instance(iid)).audit_events  # the step's start
        events = [e async for e in temporal.get_workflow_handle(iid).fetch_history_events()]
        deferred = [
            e for e in events
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
            and "audit batch deferred: a step's start" in e.user_metadata.summary.data.decode()
        ]  # fmt: skip
        assert len(deferred) == 1
        fired = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
        assert [e.timer_fired_event_attributes.timer_id for e in fired] == [
            deferred[0].timer_started_event_attributes.timer_id
        ]


async def test_the_end_carries_a_deferred_step_start_with_the_seal(
    temporal: Client, settings: Settings
) -> None:
    async with _granted(temporal, settings) as (core, sink, iid, grant):
        before = len(sink.batches)
        await core.report(iid, _started(grant))
        started_upto = (await core.get_instance(iid)).audit_events
        ended = await core.finish(iid, Finish(kind=FinishKind.COMPLETE, actor=AGENT))
        assert ended.state.value == "COMPLETED"
        events = [e async for e in temporal.get_workflow_handle(iid).fetch_history_events()]
        if any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in events):
            pytest.skip("a slow machine: the step's start went alone after its deferral")
        # One batch: the step's start, the end and the seal (it used to be two: the start
        # and the end, hurried out alone, then the seal).
        [batch] = sink.batches[before:]
        assert batch[0] < started_upto < batch[-1]
        assert batch == list(range(batch[0], batch[-1] + 1))
        assert (await core.get_instance(iid)).audit_events == batch[-1]  # the seal


async def test_a_start_travels_with_the_first_calls_batch(
    temporal: Client, settings: Settings
) -> None:
    async with _granted(temporal, settings) as (_, sink, iid, _):
        events = [e async for e in temporal.get_workflow_handle(iid).fetch_history_events()]
        fired = any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in events)
        if not fired:  # the authorize came within the start's deferral: one batch for both
            assert sink.batches == [list(range(1, sink.batches[0][-1] + 1))]
        else:  # a slow machine: the start went alone when its deferral ran out
            assert sink.batches[0][0] == 1 and len(sink.batches) == 2


async def test_the_trail_read_right_after_a_start_holds_the_start(api: httpx.AsyncClient) -> None:
    iid = (await start(api))["instance_id"]
    trail = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
    assert trail.status_code == 200, trail.text
    assert trail.json()["events"][0]["type"] == "INSTANCE_STARTED"
    unknown = await api.get("/v1/audit/instances/inst_unknown", headers=AUDITOR)
    assert unknown.status_code == 404, unknown.text

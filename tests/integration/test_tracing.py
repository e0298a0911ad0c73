"""OpenTelemetry on the real stack, with an in-memory exporter: each instance operation
(authorize, decide, step, complete) is one trace from the API request through the Temporal
client, the workflow, the audit activity in the sink and its PostgreSQL statements, with
the instance id on every span and no argument or token in any."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from gantral.observability.tracing import GantralSpanProcessor, instrument_psycopg
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.workers.sink import run_sink
from gantral.workers.worker import build_worker
from tests.helpers.auth import AGENT, LEAD
from tests.helpers.serving import api_client

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

EXPORTER = InMemorySpanExporter()
ARGS = {"service": "billing", "version": "9.9.9-trace-arg"}


def _provider() -> None:
    """The process's tracer provider, set once (OpenTelemetry allows no second one)."""
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = TracerProvider()
        trace.set_tracer_provider(current)
    current.add_span_processor(GantralSpanProcessor())
    current.add_span_processor(SimpleSpanProcessor(EXPORTER))


@pytest_asyncio.fixture(loop_scope="session")
async def traced_api(
    settings: Settings, temporal: Client, audit_config: AuditSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """Its own queues, sink and worker, started after psycopg is instrumented (a pool's
    connections are traced only if opened afterwards)."""
    _provider()
    instrument_psycopg()
    suffix = uuid.uuid4().hex[:8]
    own = settings.model_copy(
        update={
            "temporal": settings.temporal.model_copy(
                update={"task_queue": f"trace-{suffix}", "audit_task_queue": f"trace-a-{suffix}"}
            )
        }
    )
    stop = asyncio.Event()
    sink = asyncio.create_task(run_sink(own, stop, config=audit_config))
    try:
        async with build_worker(temporal, own), api_client(own, temporal, audit_config) as c:
            yield c
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(sink, timeout=30)


async def test_each_instance_operation_is_one_connected_trace(
    traced_api: httpx.AsyncClient,
) -> None:
    api = traced_api
    started = await api.post(
        "/v1/instances",
        json={"workflow_id": "deploy", "owning_team_id": "payments"},
        headers=AGENT,
    )
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    EXPORTER.clear()
    asked = await api.post(
        f"/v1/instances/{iid}/steps/deploy/authorize",
        json={"action": "deploy.run", "arguments": ARGS},
        headers=AGENT,
    )
    request_id, digest = asked.json()["request"]["request_id"], asked.json()["args_digest"]
    decided = await api.post(
        f"/v1/instances/{iid}/decisions",
        json={
            "request_id": request_id,
            "seen_args_digest": digest,
            "decision_type": "APPROVE",
            "idempotency_key": iid,
        },
        headers=LEAD,
    )
    assert decided.status_code == 200, decided.text
    grant = (
        await api.get(f"/v1/instances/{iid}/requests/{request_id}?wait=10", headers=AGENT)
    ).json()["grant"]
    ran = await api.post(
        f"/v1/instances/{iid}/events",
        json={"kind": "STEP_STARTED", "step_id": "deploy", "grant_id": grant["grant_id"],
              "args_digest": asked.json()["args_digest"]},
        headers=AGENT,
    )  # fmt: skip
    assert ran.status_code == 200, ran.text
    done = await api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT)
    assert done.status_code == 200, done.text
    await asyncio.sleep(1.0)  # the sink's last spans end after the API answered

    spans = list(EXPORTER.get_finished_spans())
    by_id = {s.context.span_id: s for s in spans}
    for route, update in (
        ("/v1/instances/{instance_id}/steps/{step_id}/authorize", "authorize"),
        ("/v1/instances/{instance_id}/decisions", "decide"),
        ("/v1/instances/{instance_id}/events", "report"),
        ("/v1/instances/{instance_id}/complete", "finish"),
    ):
        # The request's trace: the API span, then the Temporal client's update call.
        server = _server_span(spans, route)
        call = _one(spans, f"StartWorkflowUpdate:{update}", server.context.trace_id)
        assert _ancestors(call, by_id)[-1] is server
        # ... linked into the instance's trace, where the workflow handled it ...
        handled = [
            s
            for s in spans
            if s.name == f"HandleUpdate:{update}"
            and any(link.context.span_id == call.context.span_id for link in s.links)
        ]
        assert len(handled) == 1, f"{update}: no handler span linked to the call"
        instance_trace = handled[0].context.trace_id
        # ... which stored its audit batch through the sink, in PostgreSQL.
        stored = [
            s
            for s in spans
            if s.name == "RunActivity:gantral.audit.append"
            and s.context.trace_id == instance_trace
            and s.start_time >= handled[0].start_time
        ]
        assert stored, f"{update}: no audit append after the handler"
        # A decision's batch is written right after the answer (by a task of the workflow),
        # so look for the append whose scheduling span was exported, not only the first.
        scheduled = [
            a
            for a in stored
            if (up := _ancestors(a, by_id)) and up[0].name == "StartActivity:gantral.audit.append"
        ]
        assert scheduled, f"{update}: no append linked to its scheduling in the workflow"
        appends = {a.context.span_id for a in scheduled}
        assert any(_is_postgres(s) and s.parent is not None and s.parent.span_id in appends
                   for s in spans), f"{update}: no PostgreSQL span under the append"  # fmt: skip
        for trace_id in (server.context.trace_id, instance_trace):
            missing = [
                s.name
                for s in spans
                if s.context.trace_id == trace_id and s.attributes.get("gantral.instance_id") != iid
            ]
            assert missing == [], missing
    dumped = json.dumps([dict(s.attributes or {}) for s in spans])
    assert "9.9.9-trace-arg" not in dumped  # no raw arguments
    assert "Bearer" not in dumped and "eyJ" not in dumped  # no tokens


def _one(spans: list[ReadableSpan], name: str, trace_id: int) -> ReadableSpan:
    found = [s for s in spans if s.name == name and s.context.trace_id == trace_id]
    assert len(found) == 1, (name, [s.name for s in spans if s.context.trace_id == trace_id])
    return found[0]


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """The span's parents, nearest first, as far as they were exported."""
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def _server_span(spans: list[ReadableSpan], route: str) -> ReadableSpan:
    found = [s for s in spans if s.attributes.get("http.route") == route and s.parent is None]
    assert found, sorted({str(s.attributes.get("http.route")) for s in spans})
    return found[-1]


def _is_postgres(span: ReadableSpan) -> bool:
    attributes: dict[str, Any] = dict(span.attributes or {})
    return (
        attributes.get("db.system") == "postgresql"
        or attributes.get("db.system.name") == "postgresql"
    )

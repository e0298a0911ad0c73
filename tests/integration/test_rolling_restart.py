"""Rolling deploys on the real stack: under load, each of the worker, the sink and the API is
stopped with SIGTERM and a fresh process started right after. Every process exits 0 with
nothing fatal in its log, clients see nothing but connection refusals while the API
restarts, every instance reaches its end and every decision is stored exactly once.
Two workers run side by side: stopping one does not stall the instances."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest

from tests.helpers.auth import AGENT, LEAD
from tests.helpers.deployment import API_DELAY, ARGS, Deployment, stop
from tests.helpers.metrics import TEMPORAL_SDK_METRICS
from tests.helpers.processes import Process

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

AGENTS = 8
# Transport failures a client may see while the API restarts: refused or reset before any
# response. Every call carries an idempotency key (or is a read), so retrying is safe.
RETRYABLE = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)


@dataclass
class Load:
    """What the agents saw: successful calls, transport refusals, finished instances."""

    done: list[str] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)  # monotonic times of responses
    refused: list[float] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def call(
    client: httpx.AsyncClient, load: Load, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """One call, retried only on a connection refused or reset; never a 5xx."""
    while True:
        try:
            resp = await client.request(method, url, **kwargs)
        except RETRYABLE:
            load.refused.append(time.monotonic())
            await asyncio.sleep(0.2)
            continue
        assert resp.status_code < 500, f"{method} {url}: {resp.status_code} {resp.text}"
        load.answered.append(time.monotonic())
        return resp


async def run_instance(client: httpx.AsyncClient, load: Load, key: str) -> str:
    """Start, ask, approve, wait for the grant, run the step, complete."""
    started = await call(
        client, load, "POST", "/v1/instances", headers=AGENT,
        json={"workflow_id": "deploy", "owning_team_id": "payments", "idempotency_key": key},
    )  # fmt: skip
    assert started.status_code in (200, 201), started.text
    iid = started.json()["instance_id"]
    asked = await call(
        client, load, "POST", f"/v1/instances/{iid}/steps/deploy/authorize", headers=AGENT,
        json={"action": "deploy.run", "arguments": ARGS, "idempotency_key": f"{key}-ask"},
    )  # fmt: skip
    assert asked.status_code == 200, asked.text
    request, digest = asked.json()["request"], asked.json()["args_digest"]
    decided = await call(
        client, load, "POST", f"/v1/instances/{iid}/decisions", headers=LEAD,
        json={"request_id": request["request_id"], "seen_args_digest": digest,
              "decision_type": "APPROVE", "idempotency_key": f"{key}-ok"},
    )  # fmt: skip
    assert decided.status_code == 200, decided.text
    grant = None
    while grant is None:
        polled = await call(
            client, load, "GET", f"/v1/instances/{iid}/requests/{request['request_id']}",
            params={"wait": 10}, headers=AGENT,
        )  # fmt: skip
        assert polled.status_code == 200, polled.text
        grant = polled.json().get("grant")
    ran = await call(
        client, load, "POST", f"/v1/instances/{iid}/events", headers=AGENT,
        json={"kind": "STEP_STARTED", "step_id": "deploy", "grant_id": grant["grant_id"],
              "args_digest": digest, "idempotency_key": f"{key}-run"},
    )  # fmt: skip
    assert ran.status_code == 200, ran.text
    done = await call(
        client, load, "POST", f"/v1/instances/{iid}/complete", headers=AGENT,
        json={"idempotency_key": f"{key}-done"},
    )  # fmt: skip
    assert done.status_code == 200 and done.json()["state"] == "COMPLETED", done.text
    return str(iid)


async def agent(url: str, load: Load, n: int) -> None:
    # No keep-alive: a stopping server's idle connections cannot eat a request.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        i = 0
        while not load.stop.is_set():
            load.done.append(await run_instance(client, load, f"drain-{n}-{i}-{uuid.uuid4().hex}"))
            i += 1


def longest_gap(times: list[float], start: float, end: float) -> float:
    inside = sorted(t for t in times if start <= t <= end)
    points = [start, *inside, end]
    return max(b - a for a, b in itertools.pairwise(points))


async def test_sigterm_under_load_drains_every_process(deployment: Deployment) -> None:
    d = deployment
    sink, worker_a, worker_b, api = (
        d.start("sink"),
        d.start("worker"),
        d.start("worker"),
        d.start("api"),
    )
    load = Load()
    agents = [asyncio.create_task(agent(d.api_url, load, n)) for n in range(AGENTS)]
    for _ in range(300):  # the load is going: every agent has finished an instance
        if len(load.done) >= AGENTS:
            break
        await asyncio.sleep(0.2)

    # Worker: one of two stops; the other carries on at once, then a fresh one joins.
    stopped_at = time.monotonic()
    await stop(worker_a)
    await asyncio.sleep(4)
    gap = longest_gap(load.answered, stopped_at, time.monotonic())
    # Seconds, not the 10 s of a sticky queue left to time out.
    assert gap < 4.0, f"instances stalled {gap:.1f}s after a worker stopped"
    await asyncio.to_thread(d.start, "worker")

    # Sink: in-flight batches commit (or are retried whole); appends resume on the new one.
    before = len(load.done)
    await stop(sink)
    await asyncio.to_thread(d.start, "sink")
    for _ in range(600):  # until an instance completes again (at most a minute)
        if len(load.done) > before:
            break
        await asyncio.sleep(0.1)
    assert len(load.done) > before

    # API: readiness fails first while requests are still served; a waiting long-poll
    # answers its current state; then a fresh API takes over on the same port.
    async with httpx.AsyncClient(base_url=d.api_url, timeout=60) as client:
        waiting = await run_pending(client, load)
        poll = asyncio.create_task(
            client.get(f"/v1/instances/{waiting[0]}/requests/{waiting[1]}",
                       params={"wait": 50}, headers=AGENT)
        )  # fmt: skip
        await asyncio.sleep(0.5)
        refused_before = len(load.refused)
        api_stopped_at = time.monotonic()
        api.terminate()
        await asyncio.sleep(0.5)
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200  # still serving
        answered = await asyncio.wait_for(poll, timeout=API_DELAY + 10)
        assert answered.status_code == 200, answered.text
        assert answered.json()["status"] == "PENDING"
        assert time.monotonic() - api_stopped_at < API_DELAY + 5  # not the 50 s wait
        assert await asyncio.to_thread(api.wait, 60) == 0
        api.check_clean_exit()
        await asyncio.to_thread(d.start, "api")
        api_back_at = time.monotonic()
        await asyncio.sleep(3)
        # The instance left waiting is decided through the new API and completes.
        await finish_pending(client, load, *waiting)

    load.stop.set()
    await asyncio.wait_for(asyncio.gather(*agents), timeout=180)

    # Refusals only while no API listened.
    assert len(load.refused) >= refused_before
    outside = [t for t in load.refused if not api_stopped_at <= t <= api_back_at]
    assert outside == [], f"{len(outside)} connection errors outside the API restart"

    ids = [*load.done, waiting[0]]
    assert len(ids) >= 2 * AGENTS
    # Completion answers before the seal is stored: wait for the seals, then stop the rest.
    for _ in range(100):
        if sealed(d.dsn) >= len(ids):
            break
        await asyncio.sleep(0.3)
    check_metrics(d.procs)
    for proc in [p for p in d.procs if p.popen.poll() is None]:
        await stop(proc)
    for proc in d.procs:
        proc.check_clean_exit()
        proc.check_json_lines()  # not a terminal: JSON, uvicorn's access log included
    assert worker_b.popen.returncode == 0
    check_audit(d.dsn, ids)


def sealed(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM gantral_audit.events WHERE type = 'INSTANCE_SEALED'"
        ).fetchone()
    return int(row[0]) if row else 0


async def run_pending(client: httpx.AsyncClient, load: Load) -> tuple[str, str, str]:
    key = f"pending-{uuid.uuid4().hex}"
    started = await call(
        client, load, "POST", "/v1/instances", headers=AGENT,
        json={"workflow_id": "deploy", "owning_team_id": "payments", "idempotency_key": key},
    )  # fmt: skip
    iid = started.json()["instance_id"]
    asked = await call(
        client, load, "POST", f"/v1/instances/{iid}/steps/deploy/authorize", headers=AGENT,
        json={"action": "deploy.run", "arguments": ARGS, "idempotency_key": f"{key}-ask"},
    )  # fmt: skip
    return iid, asked.json()["request"]["request_id"], asked.json()["args_digest"]


async def finish_pending(
    client: httpx.AsyncClient, load: Load, iid: str, request_id: str, digest: str
) -> None:
    decided = await call(
        client, load, "POST", f"/v1/instances/{iid}/decisions", headers=LEAD,
        json={"request_id": request_id, "seen_args_digest": digest, "decision_type": "APPROVE",
              "idempotency_key": iid},
    )  # fmt: skip
    assert decided.status_code == 200, decided.text
    polled = await call(
        client, load, "GET", f"/v1/instances/{iid}/requests/{request_id}",
        params={"wait": 20}, headers=AGENT,
    )  # fmt: skip
    grant = polled.json()["grant"]
    ran = await call(
        client, load, "POST", f"/v1/instances/{iid}/events", headers=AGENT,
        json={"kind": "STEP_STARTED", "step_id": "deploy", "grant_id": grant["grant_id"],
              "args_digest": digest},
    )  # fmt: skip
    assert ran.status_code == 200, ran.text
    done = await call(client, load, "POST", f"/v1/instances/{iid}/complete", json={}, headers=AGENT)
    assert done.json()["state"] == "COMPLETED", done.text


def check_audit(dsn: str, ids: list[str]) -> None:
    """Every instance sealed, with exactly one stored decision and no gap in its chain."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT instance_id, count(*) FILTER (WHERE type = 'DECISION_RECORDED'),"
            " count(*), max(seq), bool_or(type = 'INSTANCE_SEALED')"
            " FROM gantral_audit.events WHERE instance_id = ANY(%s) GROUP BY instance_id",
            (ids,),
        ).fetchall()
    found = {row[0]: row[1:] for row in rows}
    assert set(found) == set(ids), f"{len(set(ids) - set(found))} instances have no audit"
    for iid, (decisions, count, last, sealed) in found.items():
        assert decisions == 1, f"{iid}: {decisions} decisions stored"
        assert count == last, f"{iid}: {count} events for seq 1..{last}"
        assert sealed, f"{iid} not sealed"


def check_metrics(procs: list[Process]) -> None:
    """The running worker and sink serve Gantral's metrics (the sink's derived from the
    events it stored) with the Temporal SDK's, and their probes."""
    running = {p.name: p for p in procs if p.popen.poll() is None}
    sink = httpx.get(f"{running['sink'].metrics_url}/metrics", timeout=5).text
    assert "gantral_sink_events_total" in sink and "gantral_sink_lag_seconds_bucket" in sink
    decided = [
        line
        for line in sink.splitlines()
        if line.startswith('gantral_requests_decided_total{decision_type="APPROVE"')
    ]
    assert decided and float(decided[0].split()[-1]) >= 1, sink[:2000]
    assert "temporal_activity_execution_latency" in sink  # the SDK's, on the same port
    assert "instance_id" not in sink and "inst_" not in sink  # bounded labels
    worker = httpx.get(f"{running['worker'].metrics_url}/metrics", timeout=5).text
    # The Temporal SDK metrics the shipped dashboard plots are really exported.
    for name in TEMPORAL_SDK_METRICS:
        assert name in sink + worker, name
    for name in ("sink", "worker"):
        for path in ("/healthz", "/readyz"):
            assert httpx.get(f"{running[name].metrics_url}{path}", timeout=5).status_code == 200

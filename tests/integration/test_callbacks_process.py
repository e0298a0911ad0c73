"""`python -m gantral.workers.callbacks` as a process, as deployed: its metrics port serves the
probes and counts what it did (a delivery retried then delivered, one refused, one given
up after its last attempt); SIGTERM drains it and it exits 0 with nothing fatal logged."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from psycopg.conninfo import make_conninfo
from temporalio.client import Client

from gantral.callbacks import signing
from gantral.devstack.process import free_port
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.callbacks import CallbackSettings, CallbackURLs
from gantral.workers.callbacks import follower_id
from gantral.workers.sink import run_sink
from gantral.workers.worker import build_worker
from tests.helpers.auth import AGENT, LEAD
from tests.helpers.lifecycle import decide
from tests.helpers.processes import FATAL_MARKERS, Process, environment
from tests.helpers.serving import api_client, serve
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Receiver:
    """Callback receivers: /hooks/flaky fails once (503) then takes it; /hooks/down is
    always down (500)."""

    calls: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        path = scope["path"]
        self.calls.append(path)
        flaky_first = path == "/hooks/flaky" and self.calls.count(path) == 1
        status = 500 if path == "/hooks/down" else 503 if flaky_first else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@dataclass
class Deployment:
    settings: Settings
    api: httpx.AsyncClient
    receiver: Receiver
    receiver_url: str


@pytest_asyncio.fixture(loop_scope="session")
async def deployment(
    stack: Stack, settings: Settings, temporal: Client
) -> AsyncIterator[Deployment]:
    """A database of its own whose audit log is in the default schema (the one the process
    reads), the worker, the sink and the API on task queues of their own, and the receiver.
    The API allows any callback URL on the receiver; the process only under /hooks/."""
    suffix = uuid.uuid4().hex[:8]
    with psycopg.connect(stack.postgres_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE callbacks_{suffix}")
    dsn = make_conninfo(stack.postgres_uri, dbname=f"callbacks_{suffix}")
    receiver, port = Receiver(), free_port()
    url = f"http://127.0.0.1:{port}"
    own = settings.model_copy(
        update={
            "temporal": settings.temporal.model_copy(
                update={"task_queue": f"cbp-{suffix}", "audit_task_queue": f"cbp-audit-{suffix}"}
            ),
            "database": settings.database.model_validate(
                {"url": dsn, "reader_url": dsn, "registry_url": dsn}
            ),
            "callbacks": CallbackURLs(allowed_url_prefixes=[url + "/"]),
        }
    )
    config = AuditSettings(object_prefix=f"cbp-{suffix}/")
    stop = asyncio.Event()
    sink = asyncio.create_task(run_sink(own, stop, config=config))
    try:
        async with (
            build_worker(temporal, own),
            serve(receiver, port),
            api_client(own, temporal, config, base_url="http://g") as api,
        ):
            yield Deployment(own, api, receiver, url)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(sink, timeout=30)


async def _resolve_with_callback(api: httpx.AsyncClient, callback_url: str) -> None:
    """An instance naming `callback_url`, its request rejected by a tech lead."""
    started = await api.post(
        "/v1/instances",
        json={
            "workflow_id": "deploy",
            "owning_team_id": "payments",
            "trigger_context": {"gantral:callback_url": callback_url},
        },
        headers=AGENT,
    )
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    asked = await api.post(
        f"/v1/instances/{iid}/steps/deploy/authorize",
        json={"action": "deploy.run", "arguments": {"service": "billing"}},
        headers=AGENT,
    )
    assert asked.status_code == 200, asked.text
    rid = asked.json()["request"]["request_id"]
    decided = await decide(api, iid, rid, "REJECT", LEAD, justification="not now")
    assert decided.status_code == 200, decided.text


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _until(proc: Process, check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    """Poll without blocking the event loop (the receiver, worker and sink run on it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if proc.popen.poll() is not None:
            raise AssertionError(f"callbacks exited {proc.popen.returncode}:\n{proc.text()}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} after {timeout}s:\n{proc.text()[-4000:]}")
        await asyncio.sleep(0.2)


async def test_the_callback_worker_serves_probes_and_counts_deliveries(
    deployment: Deployment, temporal: Client, tmp_path: Path
) -> None:
    metrics_port = free_port()
    own = CallbackSettings(task_queue=f"cbp-callbacks-{uuid.uuid4().hex[:8]}")
    env = environment(
        deployment.settings,
        GANTRAL_CALLBACKS__SECRET=signing.new_secret(),
        GANTRAL_CALLBACKS__ALLOWED_URL_PREFIXES=deployment.receiver_url + "/hooks/",
        GANTRAL_CALLBACKS__TASK_QUEUE=own.task_queue,
        GANTRAL_CALLBACKS__POLL_INTERVAL_SECONDS="0.3",
        GANTRAL_CALLBACKS__MAX_ATTEMPTS="2",
        GANTRAL_CALLBACKS__MAX_RETRY_INTERVAL_SECONDS="1",
        GANTRAL_CALLBACKS__METRICS_HOST="127.0.0.1",
        GANTRAL_CALLBACKS__METRICS_PORT=str(metrics_port),
    )
    proc = Process("callbacks", env, tmp_path / "callbacks.log")
    base = f"http://127.0.0.1:{metrics_port}"
    try:
        await _until(proc, lambda: proc.logged("callback worker on"), "not serving")
        async with httpx.AsyncClient(base_url=base, timeout=5) as probe:
            assert (await probe.get("/healthz")).status_code == 200
            assert (await probe.get("/readyz")).status_code == 200
            first = (await probe.get("/metrics")).text
            # Defined before anything happened, and the Temporal SDK's own metrics too.
            assert "gantral_callback_deliveries_total 0.0" in first
            assert "temporal_" in first

            receiver = deployment.receiver
            for path in ("/hooks/flaky", "/elsewhere/x", "/hooks/down"):
                await _resolve_with_callback(deployment.api, deployment.receiver_url + path)
            expected = {
                ("gantral_callback_deliveries_total", ()): 1.0,
                ("gantral_callback_failures_total", (("reason", "http_503"),)): 1.0,
                ("gantral_callback_retries_total", (("reason", "http_503"),)): 1.0,
                ("gantral_callback_failures_total", (("reason", "http_500"),)): 2.0,
                ("gantral_callback_retries_total", (("reason", "http_500"),)): 1.0,
                ("gantral_callback_dead_letters_total", (("reason", "http_500"),)): 1.0,
                ("gantral_callback_failures_total", (("reason", "url_not_allowed"),)): 1.0,
                ("gantral_callback_dead_letters_total", (("reason", "url_not_allowed"),)): 1.0,
            }
            seen: dict[Any, float] = {}

            def counted() -> bool:
                seen.clear()
                seen.update(_samples(httpx.get(f"{base}/metrics", timeout=5).text))
                return all(seen.get(k) == v for k, v in expected.items())

            await _until(proc, counted, f"metrics not as expected: {seen}")
            assert receiver.calls.count("/hooks/flaky") == 2
            assert receiver.calls.count("/hooks/down") == 2
            assert "/elsewhere/x" not in receiver.calls  # refused, never called

        # Failed attempts are logged with their traceback by the Temporal SDK (a warning);
        # the stop itself logs nothing fatal.
        before_stop = len(proc.text())
        proc.terminate()
        assert await asyncio.to_thread(proc.wait, 30) == 0, proc.text()
        stopping = proc.text()[before_stop:]
        assert not [m for m in FATAL_MARKERS if m in stopping], stopping
        proc.check_json_lines()
        assert proc.logged("callback worker stopped cleanly"), proc.text()
    finally:
        proc.kill()
        with contextlib.suppress(Exception):
            await temporal.get_workflow_handle(follower_id(own)).terminate("test over")

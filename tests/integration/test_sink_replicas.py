"""Two audit sink replicas on one database (the chart's default), as real processes: a request
is stored by one and its decision by the other. Both report the same open requests (none,
once decided) and the decision time is counted once, by the replica that stored it.

Which replica stores a batch is up to Temporal; the test makes it certain by starting the
second sink only after the request is stored, and pausing the first (SIGSTOP) while the
decision is stored. A task handed to the paused sink's outstanding poll times out on its
heartbeat and is retried on the other one."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.auth import AGENT, LEAD
from tests.helpers.deployment import ARGS, Deployment, stop
from tests.helpers.processes import Process

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GAUGES = ("gantral_requests_open", "gantral_oldest_open_request_seconds")


def scrape(proc: Process) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{proc.metrics_url}/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The sum of `name` over the samples matching `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def until(
    check: Callable[[], bool], what: str, timeout: float = 60, proc: Process | None = None
) -> None:
    """Wait for `check`; on failure show the end of `proc`'s log (why it did not get there:
    a sink whose writes fail says so only there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.3)
    tail = f"\n{proc.log.name}:\n{proc.text()[-3000:]}" if proc else ""
    raise AssertionError(f"not within {timeout}s: {what}{tail}")


def stored(proc: Process, kind: str) -> float:
    return value(scrape(proc), "gantral_sink_events_total", type=kind)


async def test_two_sinks_report_the_same_open_requests_and_time_a_decision_once(
    deployment: Deployment,
) -> None:
    d = deployment
    sink_a = d.start("sink")
    d.start("worker")
    d.start("api")
    key = f"replicas-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=d.api_url, timeout=60) as client:
        started = await client.post(
            "/v1/instances", headers=AGENT,
            json={"workflow_id": "deploy", "owning_team_id": "payments", "idempotency_key": key},
        )  # fmt: skip
        assert started.status_code in (200, 201), started.text
        iid = started.json()["instance_id"]
        asked = await client.post(
            f"/v1/instances/{iid}/steps/deploy/authorize", headers=AGENT,
            json={"action": "deploy.run", "arguments": ARGS, "idempotency_key": f"{key}-ask"},
        )  # fmt: skip
        assert asked.status_code == 200, asked.text
        rid, digest = asked.json()["request"]["request_id"], asked.json()["args_digest"]

        # Only sink A runs: it stores the request and reports it open.
        await until(
            lambda: stored(sink_a, "HUMAN_REQUESTED") == 1, "A stores the request", proc=sink_a
        )
        await until(
            lambda: value(scrape(sink_a), "gantral_requests_open") == 1, "A reports it open"
        )

        # Sink B joins and reports the request it never stored; A pauses.
        sink_b = d.start("sink")
        await until(
            lambda: value(scrape(sink_b), "gantral_requests_open") == 1, "B reports it open"
        )
        os.kill(sink_a.popen.pid, signal.SIGSTOP)
        try:
            decided = await client.post(
                f"/v1/instances/{iid}/decisions", headers=LEAD,
                json={"request_id": rid, "seen_args_digest": digest, "decision_type": "APPROVE",
                      "idempotency_key": key},
            )  # fmt: skip
            assert decided.status_code == 200, decided.text
            await until(
                lambda: stored(sink_b, "DECISION_RECORDED") == 1, "B stores the decision",
                proc=sink_b,
            )  # fmt: skip
        finally:
            os.kill(sink_a.popen.pid, signal.SIGCONT)
        polled = await client.get(
            f"/v1/instances/{iid}/requests/{rid}", params={"wait": 30}, headers=AGENT
        )
        assert polled.status_code == 200 and polled.json().get("grant"), polled.text

    # Both replicas: nothing open any more, whoever stored what.
    for sink in (sink_a, sink_b):
        await until(
            lambda s=sink: all(value(scrape(s), g) == 0 for g in GAUGES),
            f"{sink.log.name} reports no open request",
        )
    a, b = scrape(sink_a), scrape(sink_b)
    assert value(a, "gantral_sink_events_total", type="HUMAN_REQUESTED") == 1
    assert value(a, "gantral_sink_events_total", type="DECISION_RECORDED") == 0
    assert value(b, "gantral_sink_events_total", type="HUMAN_REQUESTED") == 0
    # The decision is counted and timed once in all, by B, with the request's labels
    # (its materiality was evaluated in a batch A stored).
    for name in ("gantral_requests_decided_total", "gantral_decision_seconds_count"):
        assert value(a, name) + value(b, name) == 1, name
    assert value(b, "gantral_decision_seconds_count", materiality="unknown") == 0
    assert value(b, "gantral_requests_decided_total", decision_type="APPROVE") == 1
    assert (
        value(a, "gantral_requests_opened_total") + value(b, "gantral_requests_opened_total") == 1
    )

    # A cancels the task its paused poll was handed (logged with its traceback): it
    # still drains and exits 0; the others stop with nothing to report.
    sink_a.terminate()
    assert await asyncio.to_thread(sink_a.wait, 60) == 0
    for proc in [p for p in d.procs if p.popen.poll() is None]:
        await stop(proc)

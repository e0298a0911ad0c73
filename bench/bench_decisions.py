"""The decision path through the HTTP API, against the same shape built by hand on raw
Temporal, in the same run on the same server (issue 11).

Governed: the API on a real port with real bearer tokens, the instance worker and the
audit sink (PostgreSQL, S3): start, authorize (PENDING), a human decides, the agent
long-polls for the grant, starts the step with it, completes.

Raw: a hand-built workflow on the same Temporal server: start; an Update with a validator
to ask; an Update with a validator to decide, whose handler runs one activity writing one
row to PostgreSQL; complete. A bare baseline (start, one activity, signal, complete) is
printed too.

Figures at 1 instance at a time and at N concurrent, with the targets of issue 11:
decision answered p50 <= 1.5x the raw Update round trip; decision -> grant p50 <= 1.5x
raw decision -> completed; throughput >= 0.7x raw; decision p99 < 1 s under load.

    .venv/bin/python bench/bench_decisions.py [--instances 100] [--sequential 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from raw_shapes import DSN, Bare, RawDecision, write_row
from stack import bench_stack
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

TEMPLATE = """
id: bench-decisions
steps:
  - id: deploy
    policy:
      materiality: HIGH
      requires_human_approval: true
      approvers: [{role: TECH_LEAD}]
      timeouts: {primary: 1h}
"""


@dataclass
class Figures:
    update_rtt: list[float] = field(default_factory=list)  # raw: ask, or governed: decide
    to_done: list[float] = field(default_factory=list)  # raw: decide->completed; gov: ->grant
    elapsed: float = 0.0
    count: int = 0

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def _raw(client: Client, queue: str, n: int, concurrent: bool) -> Figures:
    figures = Figures(count=n)

    async def one(i: int) -> None:
        handle = await client.start_workflow(
            RawDecision.run, id=f"raw-{uuid.uuid4().hex}", task_queue=queue
        )
        t = time.perf_counter()
        await handle.execute_update(RawDecision.ask, "args")
        figures.update_rtt.append(time.perf_counter() - t)
        t = time.perf_counter()
        await handle.execute_update(RawDecision.decide, "alice")
        await handle.result()
        figures.to_done.append(time.perf_counter() - t)

    began = time.perf_counter()
    await _run(one, n, concurrent)
    figures.elapsed = time.perf_counter() - began
    return figures


async def _bare(client: Client, queue: str, n: int) -> float:
    async def one(i: int) -> None:
        handle = await client.start_workflow(
            Bare.run, id=f"bare-{uuid.uuid4().hex}", task_queue=queue
        )
        await handle.signal(Bare.go)
        await handle.result()

    began = time.perf_counter()
    await _run(one, n, True)
    return n / (time.perf_counter() - began)


async def _governed(
    api: httpx.AsyncClient,
    n: int,
    concurrent: bool,
    think: float,
    agent: dict[str, str],
    lead: dict[str, str],
) -> Figures:
    figures = Figures(count=n)

    async def one(i: int) -> None:
        body = {"workflow_id": "bench-decisions", "owning_team_id": "payments"}
        iid = (await api.post("/v1/instances", json=body, headers=agent)).json()["instance_id"]
        base = f"/v1/instances/{iid}"
        asked = await api.post(
            f"{base}/steps/deploy/authorize", json={"arguments": {"v": i}}, headers=agent
        )
        rid, digest = asked.json()["request"]["request_id"], asked.json()["args_digest"]

        async def wait_for_grant() -> dict[str, Any]:
            while True:
                polled = await api.get(f"{base}/requests/{rid}?wait=30", headers=agent)
                if polled.json()["grant"] is not None:
                    return dict(polled.json()["grant"])

        # The agent waits on its request while an approver reads it, then decides.
        waiting = asyncio.create_task(wait_for_grant())
        decision = {
            "request_id": rid, "seen_args_digest": digest, "decision_type": "APPROVE",
            "idempotency_key": f"d{i}",
        }  # fmt: skip
        await asyncio.sleep(think)
        t = time.perf_counter()
        decided = await api.post(f"{base}/decisions", json=decision, headers=lead)
        figures.update_rtt.append(time.perf_counter() - t)
        assert decided.status_code == 200, decided.text
        grant = await waiting
        figures.to_done.append(time.perf_counter() - t)
        started = {
            "kind": "STEP_STARTED",
            "step_id": "deploy",
            "grant_id": grant["grant_id"],
            "args_digest": grant["args_digest"],
        }
        assert (await api.post(f"{base}/events", json=started, headers=agent)).is_success
        assert (await api.post(f"{base}/complete", json={}, headers=agent)).is_success

    began = time.perf_counter()
    await _run(one, n, concurrent)
    # The approvers' reading time is theirs, not the plane's: left out of the rate.
    figures.elapsed = time.perf_counter() - began - think * (1 if concurrent else n)
    return figures


async def _run(one: Any, n: int, concurrent: bool) -> None:
    if concurrent:
        await asyncio.gather(*(one(i) for i in range(n)))
    else:
        for i in range(n):
            await one(i)


def _report(label: str, raw: Figures, gov: Figures) -> None:
    dec, rtt = _p(gov.update_rtt, 0.5), _p(raw.update_rtt, 0.5)
    grant, done = _p(gov.to_done, 0.5), _p(raw.to_done, 0.5)
    print(f"{label}")
    print(f"  decision answered p50   {dec:7.1f} ms   raw Update round trip {rtt:6.1f} ms   "
          f"{dec / rtt:4.1f}x (target <= 1.5x)")  # fmt: skip
    print(f"  decision -> grant p50   {grant:7.1f} ms   raw decide -> completed {done:6.1f} ms   "
          f"{grant / done:4.1f}x (target <= 1.5x)")  # fmt: skip
    print(f"  decision p99            {_p(gov.update_rtt, 0.99):7.1f} ms   (target < 1000 ms)")
    print(f"  throughput              {gov.rate:7.1f} /s   raw {raw.rate:6.1f} /s   "
          f"{gov.rate / raw.rate:4.2f}x (target >= 0.7x)")  # fmt: skip


@dataclass
class Drive:
    """Runs the clients in a process of their own, as agents and approvers are: their
    HTTP and Temporal client work does not compete with the plane for this one's GIL."""

    api: str
    temporal: str
    think: float

    async def __call__(self, shape: str, n: int, concurrent: bool) -> Figures:
        from tests.helpers.auth import bearer

        tokens = {
            "agent": bearer("bench-agent", agent=True),
            "lead": bearer("alice", ["TECH_LEAD", "approver"]),
        }
        argv = [sys.executable, __file__, "--drive", shape, "--api", self.api,
                "--temporal", self.temporal, "--instances", str(n),
                "--think", str(self.think)] + (["--concurrent"] if concurrent else [])  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env={**os.environ, "BENCH_TOKENS": json.dumps(tokens)},
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"the {shape} driver failed ({proc.returncode})")
        return Figures(**json.loads(out.decode().strip().splitlines()[-1]))


async def _driver(shape: str, api_url: str, address: str, n: int, concurrent: bool,
                  think: float) -> None:  # fmt: skip
    """One shape's clients, in this process; prints its figures as one JSON line."""
    if shape == "governed":
        tokens = json.loads(os.environ["BENCH_TOKENS"])
        limits = httpx.Limits(max_connections=n + 10)
        async with httpx.AsyncClient(base_url=api_url, timeout=60, limits=limits) as api:
            figures = await _governed(api, n, concurrent, think, tokens["agent"], tokens["lead"])
    else:
        client = await Client.connect(address, data_converter=pydantic_data_converter)
        if shape == "raw":
            figures = await _raw(client, "bench-raw", n, concurrent)
        else:
            figures = Figures(count=n, elapsed=n / await _bare(client, "bench-raw", n))
    print(json.dumps(asdict(figures)))


async def main(n: int, sequential: int, think: float) -> None:
    async with bench_stack("bench-decisions", TEMPLATE, api=True, limit_concurrency=1000) as stack:
        DSN["uri"] = stack.database_url
        async with await psycopg.AsyncConnection.connect(DSN["uri"], autocommit=True) as conn:
            await conn.execute("CREATE TABLE bench_rows (id serial PRIMARY KEY, value text)")
        raw_workers = Worker(
            stack.client, task_queue="bench-raw", workflows=[RawDecision, Bare],
            activities=[write_row],
        )  # fmt: skip
        async with raw_workers:
            assert stack.api_url is not None
            drive = Drive(stack.api_url, stack.settings.temporal.address, think)
            await drive("governed", 3, False)  # warm up imports, pools, sandbox
            await drive("raw", 3, False)
            one_raw = await drive("raw", sequential, False)
            one_gov = await drive("governed", sequential, False)
            bare = (await drive("bare", n, True)).rate
            many_raw = await drive("raw", n, True)
            many_gov = await drive("governed", n, True)
    print("Temporal dev server (SQLite file); API, worker and sink in this one process,")
    print("clients (agents, approvers, the raw shape's caller) in another;")
    print(f"approvers decide {think * 1000:.0f} ms after the request opens; the agent waits")
    print("on its request meanwhile (a long-poll), as agents do")
    _report(f"1 instance at a time ({sequential} instances)", one_raw, one_gov)
    _report(f"{n} concurrent instances", many_raw, many_gov)
    print(f"  bare baseline (start, activity, signal, complete): {bare:6.1f} /s")


if __name__ == "__main__":
    # The test helpers mint real tokens from a development-issuer key.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=100, help="instances run concurrently")
    parser.add_argument("--sequential", type=int, default=20, help="instances one at a time")
    parser.add_argument(
        "--think",
        type=float,
        default=0.2,
        help="seconds an approver takes before deciding (default 0.2; no human decides "
        "sooner, and a request reaches Slack or Jira only once it is audited)",
    )
    parser.add_argument("--drive", choices=["governed", "raw", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--temporal", help=argparse.SUPPRESS)
    parser.add_argument("--concurrent", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        asyncio.run(
            _driver(args.drive, args.api, args.temporal, args.instances, args.concurrent,
                    args.think)
        )  # fmt: skip
    else:
        asyncio.run(main(args.instances, args.sequential, args.think))

"""The clients of every shape the benchmarks time, governed (HTTP API, bearer tokens) and
raw (the same shape by hand on the same Temporal server, `raw_shapes.py`), run as a
process of their own (`timing.Drive`): one shape, its figures printed as one JSON line.

    python bench/agents.py SHAPE --api URL --temporal HOST:PORT [options]

Samples, by shape (seconds):
- decision, decision-raw: `answered` (governed: the decision; raw: the ask Update) and
  `to_grant` (governed: decision -> grant seen by the long-polling agent; raw: the decide
  Update, its activity writing one row, completion);
- bare: none (start, one activity, signal, complete: the rate only);
- allowed, allowed-raw: `start`, `first_authorize` (the first authorize after the start,
  ALLOW) and `step` (that authorize, STEP_STARTED with its grant, STEP_COMPLETED; raw:
  the authorize Update then two Updates answered from memory);
- steady, steady-raw: `authorize` and `step` for every step but the first of `--steps`
  steps on one instance;
- loop, loop-raw: `loop`, one start + governed step by one of `--agents` agents, each
  looping for `--seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import httpx
from raw_shapes import Bare, RawAllowed, RawDecision
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from timing import Figures, loop, repeat

RAW_QUEUE = "bench-raw"
TEAM = "payments"  # the team of the test helpers' tokens
GOVERNED_STEP = "act"  # the allowed step of the benchmarks' templates
DECIDED_STEP = "deploy"  # the step needing a TECH_LEAD


async def decision_raw(client: Client, n: int, concurrent: bool) -> Figures:
    figures = Figures(count=n)

    async def one(i: int) -> None:
        handle = await client.start_workflow(
            RawDecision.run, id=f"raw-{uuid.uuid4().hex}", task_queue=RAW_QUEUE
        )
        t = time.perf_counter()
        await handle.execute_update(RawDecision.ask, "args")
        figures.add("answered", time.perf_counter() - t)
        t = time.perf_counter()
        await handle.execute_update(RawDecision.decide, "alice")
        await handle.result()
        figures.add("to_grant", time.perf_counter() - t)

    figures.elapsed = await repeat(one, n, concurrent)
    return figures


async def bare(client: Client, n: int) -> Figures:
    async def one(i: int) -> None:
        handle = await client.start_workflow(
            Bare.run, id=f"bare-{uuid.uuid4().hex}", task_queue=RAW_QUEUE
        )
        await handle.signal(Bare.go)
        await handle.result()

    return Figures(count=n, elapsed=await repeat(one, n, True))


class Governed:
    """An agent (and, for decisions, a TECH_LEAD) of workflow `workflow` through the API."""

    def __init__(self, api: httpx.AsyncClient, workflow: str, tokens: dict[str, Any]) -> None:
        self.api, self.workflow = api, workflow
        self.agent, self.lead = tokens["agent"], tokens["lead"]

    async def start(self) -> str:
        body = {"workflow_id": self.workflow, "owning_team_id": TEAM}
        started = await self.api.post("/v1/instances", json=body, headers=self.agent)
        assert started.status_code == 201, started.text
        return str(started.json()["instance_id"])

    async def authorize(self, iid: str, step: str, i: int) -> dict[str, Any]:
        body = {"arguments": {"v": i}}
        path = f"/v1/instances/{iid}/steps/{step}/authorize"
        asked = await self.api.post(path, json=body, headers=self.agent)
        assert asked.status_code == 200, asked.text
        return dict(asked.json())

    async def event(self, iid: str, body: dict[str, Any]) -> None:
        sent = await self.api.post(f"/v1/instances/{iid}/events", json=body, headers=self.agent)
        assert sent.is_success, sent.text

    async def step(self, iid: str, i: int, figures: Figures, name: str) -> None:
        """One governed step, the authorize timed as `name` and the whole as `step`."""
        t = time.perf_counter()
        allowed = await self.authorize(iid, GOVERNED_STEP, i)
        figures.add(name, time.perf_counter() - t)
        assert allowed["outcome"] == "ALLOW", allowed
        grant = allowed["grant"]
        await self.event(iid, {"kind": "STEP_STARTED", "step_id": GOVERNED_STEP,
                               "grant_id": grant["grant_id"],
                               "args_digest": grant["args_digest"]})  # fmt: skip
        await self.event(iid, {"kind": "STEP_COMPLETED", "step_id": GOVERNED_STEP})
        figures.add("step", time.perf_counter() - t)

    async def decision(self, n: int, concurrent: bool, think: float) -> Figures:
        figures = Figures(count=n)

        async def one(i: int) -> None:
            iid = await self.start()
            base = f"/v1/instances/{iid}"
            asked = await self.authorize(iid, DECIDED_STEP, i)
            rid, digest = asked["request"]["request_id"], asked["args_digest"]

            async def wait_for_grant() -> dict[str, Any]:
                while True:
                    polled = await self.api.get(f"{base}/requests/{rid}?wait=30",
                                                headers=self.agent)  # fmt: skip
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
            decided = await self.api.post(f"{base}/decisions", json=decision, headers=self.lead)
            figures.add("answered", time.perf_counter() - t)
            assert decided.status_code == 200, decided.text
            grant = await waiting
            figures.add("to_grant", time.perf_counter() - t)
            await self.event(iid, {"kind": "STEP_STARTED", "step_id": DECIDED_STEP,
                                   "grant_id": grant["grant_id"],
                                   "args_digest": grant["args_digest"]})  # fmt: skip
            finished = await self.api.post(f"{base}/complete", json={}, headers=self.agent)
            assert finished.is_success, finished.text

        # The approvers' reading time is theirs, not the plane's: left out of the rate.
        figures.elapsed = await repeat(one, n, concurrent) - think * (1 if concurrent else n)
        return figures

    async def allowed(self, n: int) -> Figures:
        figures = Figures(count=n)

        async def one(i: int) -> None:
            t = time.perf_counter()
            iid = await self.start()
            figures.add("start", time.perf_counter() - t)
            await self.step(iid, i, figures, "first_authorize")

        figures.elapsed = await repeat(one, n, False)
        return figures

    async def steady(self, n: int, steps: int) -> Figures:
        figures = Figures(count=n * steps)

        async def one(i: int) -> None:
            iid = await self.start()
            await self.step(iid, 0, Figures(), "first_authorize")  # not steady yet
            for s in range(1, steps):
                await self.step(iid, s, figures, "authorize")

        figures.elapsed = await repeat(one, n, False)
        return figures

    async def looped(self, agents: int, seconds: float) -> Figures:
        figures, steps = Figures(), Figures()

        async def one(i: int) -> None:
            await self.step(await self.start(), i, steps, "authorize")

        await loop(one, agents, seconds, figures)
        return figures


class Raw:
    """The same agent by hand: `RawAllowed` on the same Temporal server."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def start(self) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            RawAllowed.run, id=f"raw-allowed-{uuid.uuid4().hex}", task_queue=RAW_QUEUE
        )

    async def step(self, handle: WorkflowHandle[Any, Any], figures: Figures, name: str) -> None:
        t = time.perf_counter()
        grant = await handle.execute_update(RawAllowed.authorize, GOVERNED_STEP)
        figures.add(name, time.perf_counter() - t)
        await handle.execute_update(RawAllowed.started, grant)
        await handle.execute_update(RawAllowed.completed, grant)
        figures.add("step", time.perf_counter() - t)

    async def allowed(self, n: int) -> Figures:
        figures = Figures(count=n)

        async def one(i: int) -> None:
            t = time.perf_counter()
            handle = await self.start()
            figures.add("start", time.perf_counter() - t)
            await self.step(handle, figures, "first_authorize")
            await handle.signal(RawAllowed.finish)

        figures.elapsed = await repeat(one, n, False)
        return figures

    async def steady(self, n: int, steps: int) -> Figures:
        figures = Figures(count=n * steps)

        async def one(i: int) -> None:
            handle = await self.start()
            await self.step(handle, Figures(), "first_authorize")  # not steady yet
            for _ in range(1, steps):
                await self.step(handle, figures, "authorize")
            await handle.signal(RawAllowed.finish)

        figures.elapsed = await repeat(one, n, False)
        return figures

    async def looped(self, agents: int, seconds: float) -> Figures:
        figures, steps = Figures(), Figures()

        async def one(i: int) -> None:
            await self.step(await self.start(), steps, "authorize")

        await loop(one, agents, seconds, figures)
        return figures


SHAPES = ["decision", "decision-raw", "bare", "allowed", "allowed-raw", "steady", "steady-raw",
          "loop", "loop-raw"]  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("shape", choices=SHAPES)
    p.add_argument("--api", required=True, help="the API's base URL")
    p.add_argument("--temporal", required=True, help="the Temporal server's address")
    p.add_argument("--workflow", default="bench-decisions", help="the governed workflow id")
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--concurrent", action="store_true")
    p.add_argument("--think", type=float, default=0.0)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--seconds", type=float, default=10.0)
    return p


async def shape(a: argparse.Namespace) -> Figures:
    n = a.instances
    if not a.shape.endswith("-raw") and a.shape != "bare":
        tokens = json.loads(os.environ["BENCH_TOKENS"])
        limits = httpx.Limits(max_connections=max(n, a.agents) + 10)
        async with httpx.AsyncClient(base_url=a.api, timeout=60, limits=limits) as api:
            gov = Governed(api, a.workflow, tokens)
            run: dict[str, Callable[[], Awaitable[Figures]]] = {
                "decision": lambda: gov.decision(n, a.concurrent, a.think),
                "allowed": lambda: gov.allowed(n),
                "steady": lambda: gov.steady(n, a.steps),
                "loop": lambda: gov.looped(a.agents, a.seconds),
            }
            return await run[a.shape]()
    client = await Client.connect(a.temporal, data_converter=pydantic_data_converter)
    raw = Raw(client)
    run = {
        "decision-raw": lambda: decision_raw(client, n, a.concurrent),
        "bare": lambda: bare(client, n),
        "allowed-raw": lambda: raw.allowed(n),
        "steady-raw": lambda: raw.steady(n, a.steps),
        "loop-raw": lambda: raw.looped(a.agents, a.seconds),
    }
    return await run[a.shape]()


if __name__ == "__main__":
    # Skip finalization either way: the Temporal client's native threads can abort it
    # (SIGABRT in PyGILState_Release) or hang it after the figures are out, or after a
    # failure, which would leave the benchmark waiting for this process forever.
    try:
        print(json.dumps(asdict(asyncio.run(shape(parser().parse_args())))), flush=True)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)

"""Scale: what waiting instances cost, and whether a long-lived instance stays as fast.

Instances are opened into WAITING_FOR_HUMAN through the API (real bearer tokens, the sink
storing every fact) up to each count in turn. At each count it measures, p50/p99 over
`--samples` calls: listing instances, getting one, the approver inbox's first page, and a
decision (on a waiting request, answered); and the resident memory of Temporal,
PostgreSQL, SeaweedFS and this process (API, worker and sink), per 1,000 waiting.

Then one instance runs `--steps` allowed steps (authorize ALLOW, STEP_STARTED,
STEP_COMPLETED), continuing as new as its history grows, and a decision on it is timed
against the same decision on a fresh instance.

    .venv/bin/python bench/bench_scale.py                       # 0, 500, 2000; 500 steps
    .venv/bin/python bench/bench_scale.py --counts 0,1000,4000,10000 --steps 5000

The long-lived instance is measured first, with nothing waiting; every figure is printed
as soon as it is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from stack import bench_stack
from timing import ms, tokens

TEMPLATE = """
id: bench-scale
steps:
  - id: read
    policy:
      materiality: LOW
      requires_human_approval: false
  - id: deploy
    policy:
      materiality: HIGH
      requires_human_approval: true
      approvers: [{role: TECH_LEAD}]
      timeouts: {primary: 24h}
"""

# Memory is summed per program over the processes the stack started: those whose command
# line names its data directory (pg_ctl's server is not our child), and their children
# (PostgreSQL's backends rename themselves). Proportional set size, so the pages a server
# shares with its children count once.
PROGRAMS = {"temporal": "Temporal", "postgres": "PostgreSQL", "weed": "SeaweedFS"}


def _pss_mib(pid: int | str) -> float:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory(data: Path) -> dict[str, float]:
    """MiB by program: this process (API, worker, sink) and the stack's servers."""
    labels: dict[int, str] = {}
    parents: dict[int, int] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
        program = Path(argv[0].decode(errors="replace")).name
        label = next((v for k, v in PROGRAMS.items() if program.startswith(k)), None)
        if label is not None and str(data).encode() in b" ".join(argv):
            labels[int(entry)] = label
    for pid, parent in parents.items():
        if parent in labels and pid not in labels:
            labels[pid] = labels[parent]
    out = {"API, worker, sink": _pss_mib(os.getpid())}
    for pid, label in labels.items():
        with contextlib.suppress(OSError):
            out[label] = out.get(label, 0.0) + _pss_mib(pid)
    return out


class Client:
    def __init__(self, api: httpx.AsyncClient, heads: dict[str, dict[str, str]]) -> None:
        self.api, self.agent, self.lead = api, heads["agent"], heads["lead"]

    async def call(self, method: str, path: str, who: dict[str, str], **kw: Any) -> Any:
        resp = await self.api.request(method, path, headers=who, **kw)
        assert resp.is_success, (path, resp.status_code, resp.text)
        return resp.json()

    async def start(self) -> str:
        body = {"workflow_id": "bench-scale", "owning_team_id": "payments"}  # the tokens' team
        return str((await self.call("POST", "/v1/instances", self.agent, json=body))["instance_id"])

    async def authorize(self, iid: str, step: str, i: int) -> dict[str, Any]:
        path = f"/v1/instances/{iid}/steps/{step}/authorize"
        return dict(await self.call("POST", path, self.agent, json={"arguments": {"v": i}}))

    async def waiting(self, i: int) -> tuple[str, str, str]:
        """A new instance waiting for a human: (instance, request, digest shown)."""
        iid = await self.start()
        asked = await self.authorize(iid, "deploy", i)
        assert asked["outcome"] == "PENDING", asked
        return iid, asked["request"]["request_id"], asked["args_digest"]

    async def decide(self, iid: str, rid: str, digest: str) -> None:
        body = {"request_id": rid, "seen_args_digest": digest, "decision_type": "APPROVE",
                "idempotency_key": f"d-{rid}"}  # fmt: skip
        await self.call("POST", f"/v1/instances/{iid}/decisions", self.lead, json=body)

    async def allowed_step(self, iid: str, i: int) -> None:
        allowed = await self.authorize(iid, "read", i)
        assert allowed["outcome"] == "ALLOW", allowed
        grant = allowed["grant"]
        events = f"/v1/instances/{iid}/events"
        await self.call("POST", events, self.agent, json={
            "kind": "STEP_STARTED", "step_id": "read", "grant_id": grant["grant_id"],
            "args_digest": grant["args_digest"]})  # fmt: skip
        body = {"kind": "STEP_COMPLETED", "step_id": "read"}
        await self.call("POST", events, self.agent, json=body)


async def timed(n: int, one: Callable[[int], Awaitable[object]]) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        await one(i)
        out.append(time.perf_counter() - t)
    return out


async def fill(c: Client, n: int, opened: list[tuple[str, str, str]]) -> None:
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        async with gate:
            opened.append(await c.waiting(i))

    await asyncio.gather(*(one(len(opened) + i) for i in range(n)))


async def main(counts: list[int], samples: int, steps: int) -> None:
    rows: list[tuple[int, dict[str, list[float]], dict[str, float]]] = []
    # Each figure is printed as soon as it is measured (a run cut short keeps what it had).
    print("scale; Temporal dev server (SQLite file), PostgreSQL, SeaweedFS; API, worker and")
    print(f"sink in this one process; {samples} samples per figure, ms p50/p99", flush=True)
    async with bench_stack("bench-scale", TEMPLATE, api=True) as stack:
        assert stack.api_url is not None
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=120, limits=limits) as api:
            c = Client(api, tokens())

            async def decide_on(iid: str, i: int) -> None:
                asked = await c.authorize(iid, "deploy", 1_000_000 + i)
                await c.decide(iid, asked["request"]["request_id"], asked["args_digest"])

            # First, with nothing waiting: a long-lived instance against a fresh one, the
            # same decision.
            if steps:
                old = await c.start()
                began = time.perf_counter()
                for i in range(steps):
                    await c.allowed_step(old, i)
                ran = time.perf_counter() - began
                long_lived = await timed(samples, lambda i: decide_on(old, i))
                fresh_ids = [await c.start() for _ in range(samples)]
                fresh = await timed(samples, lambda i: decide_on(fresh_ids[i], i))
                print(f"long-lived instance: {steps} allowed steps in {ran:.1f} s "
                      f"({steps / ran if ran else 0:.1f} steps/s)")  # fmt: skip
                ratio = ms(long_lived) / ms(fresh) if ms(fresh) else 0.0
                print(f"  decide p50/p99 on it {ms(long_lived):.1f}/{ms(long_lived, 0.99):.1f} "
                      f"ms, on a fresh one {ms(fresh):.1f}/{ms(fresh, 0.99):.1f} ms: "
                      f"{ratio:.2f}x (target: about 1x)", flush=True)  # fmt: skip

            head = f"{'waiting':>8}" + "".join(
                f"{k:>16}" for k in ("list", "get", "inbox", "decide")
            )
            print(head, flush=True)
            opened: list[tuple[str, str, str]] = []
            for count in sorted(counts):
                # Every sample decides one request: keep `count` waiting while it is timed.
                await fill(c, count + samples - len(opened), opened)
                some = opened[0][0]
                figures = {
                    "list": await timed(samples, lambda _: c.call(
                        "GET", "/v1/instances", c.lead, params={"limit": 50})),
                    "get": await timed(samples, lambda _, some=some: c.call(
                        "GET", f"/v1/instances/{some}", c.lead)),
                    "inbox": await timed(samples, lambda _: c.call(
                        "GET", "/v1/requests", c.lead,
                        params={"pending_for": "me", "limit": 50})),
                }  # fmt: skip
                picked = [opened.pop() for _ in range(samples)]
                figures["decide"] = await timed(samples, lambda i, p=picked: c.decide(*p[i]))
                mem = memory(stack.data)
                rows.append((count, figures, mem))
                cells = "".join(
                    f"{ms(figures[k]):>8.1f}/{ms(figures[k], 0.99):<7.1f}"
                    for k in ("list", "get", "inbox", "decide")
                )
                sizes = ", ".join(f"{k} {v:.0f}" for k, v in sorted(mem.items()))
                print(f"{count:>8}{cells}  memory MiB: {sizes}", flush=True)

    first, last = rows[0], rows[-1]
    if last[0] > first[0]:
        grew = sum(last[2].values()) - sum(first[2].values())
        print(f"  per 1,000 waiting: {grew * 1000 / (last[0] - first[0]):.0f} MiB in all")


if __name__ == "__main__":
    # The test helpers mint real tokens from a development-issuer key.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", default="0,500,2000", help="waiting instances, comma-separated")
    parser.add_argument("--samples", type=int, default=20, help="calls timed per figure")
    parser.add_argument("--steps", type=int, default=500, help="steps of the long-lived instance")
    args = parser.parse_args()
    asyncio.run(main([int(c) for c in args.counts.split(",")], args.samples, args.steps))

"""What the benchmarks comparing Gantral with a raw Temporal shape time with: samples and
their percentiles, a shape run n times (one at a time or all at once) or looped by agents
for a while, the clients run in a process of their own, and one printed row with its ratio.

The clients (agents, approvers, the raw shape's caller) run in another process, as they
do in production: their HTTP and Temporal client work does not compete with the plane
(API, worker and sink, in the benchmark's process) for its GIL. `bench/agents.py` is
that process; `drive` starts it for one shape and reads back its `Figures`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

AGENTS = Path(__file__).with_name("agents.py")
# A driver that neither prints its figures nor exits this long after its shape's own
# `--seconds` is stuck (the longest shape, 100 flows on a slow machine, takes about two
# minutes): stopped, and the benchmark fails instead of waiting forever.
DRIVER_TIMEOUT_SECONDS = 900.0


@dataclass
class Figures:
    """One shape's samples in seconds, by what they time (the shape names them); `count`
    runs took `elapsed`."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    elapsed: float = 0.0
    count: int = 0

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds)

    def ms(self, name: str, q: float = 0.5) -> float:
        return ms(self.samples.get(name, []), q)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0


def ms(values: list[float], q: float = 0.5) -> float:
    """The q-quantile of `values` (seconds) in milliseconds (nearest rank); 0 when empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def repeat(one: Callable[[int], Awaitable[None]], n: int, concurrent: bool) -> float:
    """Run `one(0..n-1)` one at a time or all at once; the seconds it took."""
    began = time.perf_counter()
    if concurrent:
        await asyncio.gather(*(one(i) for i in range(n)))
    else:
        for i in range(n):
            await one(i)
    return time.perf_counter() - began


async def loop(
    one: Callable[[int], Awaitable[None]], agents: int, seconds: float, figures: Figures
) -> None:
    """`agents` agents, each running `one` again and again until `seconds` have passed:
    each run's latency as `figures`' "loop" samples, how many ran and for how long."""
    deadline = time.perf_counter() + seconds

    async def agent(a: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            await one(a * 1_000_000 + i)
            figures.add("loop", time.perf_counter() - t)
            i += 1

    began = time.perf_counter()
    await asyncio.gather(*(agent(a) for a in range(agents)))
    figures.elapsed = time.perf_counter() - began
    figures.count = len(figures.samples.get("loop", []))


def row(label: str, governed: float, raw: float, unit: str, target: str) -> str:
    """One line of a table: Gantral's figure, the raw shape's, their ratio and the target."""
    ratio = f"{governed / raw:5.2f}x" if raw else "    -"
    return f"  {label:<36} {governed:8.1f} {unit:<4} raw {raw:8.1f} {unit:<4} {ratio}  ({target})"


def tokens() -> dict[str, dict[str, str]]:
    """The agent's and the approver's bearer headers: real tokens of the development issuer
    `bench_stack` trusts (the test helpers': the repo root must be on sys.path)."""
    from tests.helpers.auth import bearer

    return {
        "agent": bearer("bench-agent", agent=True),
        "lead": bearer("alice", ["TECH_LEAD", "approver"]),
    }


@dataclass
class Drive:
    """Starts `bench/agents.py` for one shape against the stack at `api` (HTTP) and
    `temporal` (the raw shapes' server), with `tokens` (bearer headers by role)."""

    api: str
    temporal: str
    tokens: dict[str, dict[str, str]]

    async def __call__(self, shape: str, **options: object) -> Figures:
        argv = [sys.executable, str(AGENTS), shape, "--api", self.api, "--temporal", self.temporal]
        for name, value in options.items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                argv.append(flag)
            elif value is not False and value is not None:
                argv += [flag, str(value)]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env={**os.environ, "BENCH_TOKENS": json.dumps(self.tokens)},
            stdout=asyncio.subprocess.PIPE,
        )
        limit = DRIVER_TIMEOUT_SECONDS + float(str(options.get("seconds", 0)))
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), limit)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"the {shape} driver gave no figures within {limit:.0f} s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"the {shape} driver failed ({proc.returncode})")
        return Figures(**json.loads(out.decode().strip().splitlines()[-1]))

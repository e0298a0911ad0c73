"""Readiness checks per second with 10,000 instances and 100 teams (issue 17).

Starts an embedded PostgreSQL, seeds the counters as a busy plane looks: every instance
holds one running governed step, each team has spend in its budget period and admissions
in the last minute. Then asks the gate for the next step of random instances (check and
release, so the load stays steady), one at a time and with N concurrent callers.

The check is added to every authorize call once it is wired (issue 17 requests); the
ratio printed is its p50 against an authorize p50 without capacity rules, taken from
`bench/bench_decisions.py` (pass it with --authorize-ms; 0 prints none).

    .venv/bin/python bench/bench_readiness.py [--instances 10000] [--teams 100] [--checks 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from gantral.devstack.services import Postgres
from gantral.readiness import (
    Ask,
    CounterStore,
    InstanceUsage,
    ReadinessGate,
    RunningStep,
    SpendItem,
    load_rules,
)
from gantral.readiness.gate import ActiveRules


def rules_text(teams: int) -> str:
    lines = ["plane: {concurrency: 100000, steps_per_minute: 1000000}", "teams:"]
    for t in range(teams):
        lines.append(
            f"  team-{t}: {{weight: {1 + t % 3}, concurrency: 1000, steps_per_minute: 100000,"
            " budget: {period: day, tokens: 1000000000, money: 1000000}}"
        )
    lines.append("workflows: {deploy: {concurrency: 100000}}")
    return "\n".join(lines)


def seed(instances: int, teams: int, now: datetime) -> list[InstanceUsage]:
    out = []
    for i in range(instances):
        started = now - timedelta(seconds=random.uniform(0, 120))
        spend = tuple(
            SpendItem(now - timedelta(minutes=random.uniform(0, 600)), 1000, 0.01, "USD")
            for _ in range(3)
        )
        out.append(
            InstanceUsage(f"inst_{i}", f"team-{i % teams}", "deploy",
                          (RunningStep("work", f"bot-{i % 500}", started),), spend)
        )  # fmt: skip
    return out


async def measure(gate: ReadinessGate, asks: list[Ask], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue = list(asks)

    async def caller() -> None:
        while queue:
            ask = queue.pop()
            t0 = time.perf_counter()
            verdict = await gate.check(ask)
            latencies.append(time.perf_counter() - t0)
            assert verdict.ready, verdict
            await gate.release(ask.instance_id, ask.step_id)

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return latencies


def report(name: str, latencies: list[float], elapsed: float) -> float:
    p50 = statistics.median(latencies) * 1000
    p99 = sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000
    print(f"{name:<24} {len(latencies) / elapsed:8.0f} checks/s   p50 {p50:6.2f} ms"
          f"   p99 {p99:6.2f} ms")  # fmt: skip
    return p50


async def main(args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="gantral-bench-readiness-"))
    postgres = Postgres(data / "postgres")
    postgres.start()
    try:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            postgres.uri, open=False, min_size=args.concurrency, max_size=args.concurrency
        )
        await pool.open(wait=True)
        store = CounterStore(pool)
        await store.migrate()
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        usages = seed(args.instances, args.teams, now)
        await store.rebuild(usages, now)
        print(f"seeded {args.instances} instances, {args.teams} teams "
              f"(rebuild {time.perf_counter() - t0:.2f} s)")  # fmt: skip
        rules = load_rules(rules_text(args.teams))
        gate = ReadinessGate(store, ActiveRules(rules, 1))
        asks = [
            Ask(f"inst_{i}", f"next-{n}", f"team-{i % args.teams}", "deploy", f"bot-{i % 500}")
            for n, i in enumerate(random.choices(range(args.instances), k=args.checks))
        ]
        await measure(gate, asks[:100], 1)  # warm up
        started = time.perf_counter()
        sequential = await measure(gate, asks, 1)
        p50 = report("sequential", sequential, time.perf_counter() - started)
        started = time.perf_counter()
        concurrent = await measure(gate, asks, args.concurrency)
        report(f"{args.concurrency} concurrent", concurrent, time.perf_counter() - started)
        started = time.perf_counter()
        explained = 0
        for ask in asks[: args.checks // 2]:
            await gate.explain(ask)
            explained += 1
        print(f"{'explain (read only)':<24} {explained / (time.perf_counter() - started):8.0f}"
              " checks/s")  # fmt: skip
        if args.authorize_ms > 0:
            print(f"check p50 / authorize p50 without rules = {p50:.2f} / {args.authorize_ms:.2f}"
                  f" ms = {p50 / args.authorize_ms:.2f}")  # fmt: skip
        await pool.close()
    finally:
        postgres.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--checks", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--authorize-ms", type=float, default=0.0)
    asyncio.run(main(parser.parse_args()))

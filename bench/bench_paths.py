"""Every governed path against its raw Temporal shape, in one run on one server (issue 28):
the decision path, the allowed path every agent pays on every tool call, and throughput
under load.

Governed: the API on a real port with real bearer tokens, the instance worker and the
audit sink (PostgreSQL, S3), each a process of its own as `make run` starts them. Raw:
the same shapes built by hand (`raw_shapes.py`) on the same Temporal server, their one
durable row written to the same PostgreSQL:

- decision answered: raw, an Update with a validator answered from memory;
- decision -> grant seen by the agent: raw, that Update, one activity, completion;
- first authorize after start, ALLOW: raw, start, then an Update whose handler awaits one
  activity inserting one row (the durable evidence a grant needs) and returns a grant id
  (the authorize alone is timed on both sides, the start on its own row);
- governed step (authorize ALLOW, STEP_STARTED with the grant, STEP_COMPLETED): raw, that
  Update, then two Updates answered from memory;
- steady-state authorize and governed step: every step but the first of 25 on one instance;
- agents each looping start + governed step for a while: steps/s and p99 of one loop;
- with --flows N, N concurrent approval flows (start, authorize, decide, grant, step,
  complete): flows/s and decision p99 against RawDecision at the same load.

Under the load rows, the CPU each loop and each flow cost, by part of the stack (Temporal,
PostgreSQL, S3, sink, worker, API; `bench/cpu.py`), Gantral's beside the raw shape's: on a
machine the load saturates, the throughput ratio can be no better than their ratio.

Every figure is printed beside its raw shape's, their ratio and the issue's target (never
asserted: the ratios depend on the machine and how busy it is).

    .venv/bin/python bench/bench_paths.py [--sequential 10] [--steps 25] [--agents 20]
        [--seconds 10] [--flows 100] [--sinks 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import psycopg
from cpu import CpuSample, cpu_by_part, spent
from raw_shapes import DSN, RawAllowed, RawDecision, write_row
from stack import bench_stack
from temporalio.worker import Worker
from timing import Drive, Figures, row, tokens

NAME = "bench-paths"
TEMPLATE = f"""
id: {NAME}
steps:
  - id: deploy
    policy:
      materiality: HIGH
      requires_human_approval: true
      approvers: [{{role: TECH_LEAD}}]
      timeouts: {{primary: 1h}}
  - id: act
    policy:
      requires_human_approval: false
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sequential", type=int, default=10,
                   help="instances one at a time for the decision and first-step rows")  # fmt: skip
    p.add_argument("--steady-instances", type=int, default=1,
                   help="instances of --steps steps each for the steady-state rows")  # fmt: skip
    p.add_argument("--steps", type=int, default=25, help="steps on one steady-state instance")
    p.add_argument("--agents", type=int, default=20, help="agents looping under load")
    p.add_argument("--seconds", type=float, default=10.0, help="how long the agents loop")
    p.add_argument("--flows", type=int, default=0,
                   help="concurrent approval flows for the load rows (0: skipped; the "
                   "issue's figure is at 100)")  # fmt: skip
    p.add_argument("--sinks", type=int, default=1,
                   help="audit sink replicas (2: their contention on the log's lock)")  # fmt: skip
    p.add_argument("--one-process", action="store_true",
                   help="the API, worker and sink as tasks of this process instead of a "
                   "process each (as `make run` starts them)")  # fmt: skip
    p.add_argument("--think", type=float, default=0.2,
                   help="seconds an approver takes before deciding (not timed)")  # fmt: skip
    return p


async def measure(a: argparse.Namespace) -> dict[str, tuple[Figures, Figures]]:
    """(governed, raw) figures of every shape, each raw shape measured just before its
    governed one."""
    async with bench_stack(
        NAME, TEMPLATE, api=True, limit_concurrency=1000, sinks=a.sinks,
        processes=not a.one_process,
    ) as stack:  # fmt: skip
        DSN["uri"] = stack.database_url
        async with await psycopg.AsyncConnection.connect(DSN["uri"], autocommit=True) as conn:
            await conn.execute("CREATE TABLE bench_rows (id serial PRIMARY KEY, value text)")
        raw_workers = Worker(
            stack.client, task_queue="bench-raw", workflows=[RawDecision, RawAllowed],
            activities=[write_row],
        )  # fmt: skip
        async with raw_workers:
            assert stack.api_url is not None
            drive = Drive(stack.api_url, stack.settings.temporal.address, tokens())
            n, gov = a.sequential, {"workflow": NAME}
            # Warm up imports, pools and the sandbox on both sides.
            await drive("decision", instances=2, think=a.think, **gov)
            await drive("decision-raw", instances=2)
            await drive("allowed", instances=2, **gov)
            await drive("allowed-raw", instances=2)
            figures: dict[str, tuple[Figures, Figures]] = {}
            for shape, options in [
                ("decision", {"instances": n, "think": a.think}),
                ("allowed", {"instances": n}),
                ("steady", {"instances": a.steady_instances, "steps": a.steps}),
                ("loop", {"agents": a.agents, "seconds": a.seconds}),
                ("flows", {"instances": a.flows, "concurrent": True, "think": a.think}),
            ]:
                if shape == "flows" and not a.flows:
                    continue
                governed = "decision" if shape == "flows" else shape
                before = cpu_by_part(stack.data)
                raw = await drive(f"{governed}-raw", **options)
                between = cpu_by_part(stack.data)
                figures[shape] = (await drive(governed, **options, **gov), raw)
                CPU[shape] = (spent(between, cpu_by_part(stack.data)), spent(before, between))
            return figures


# CPU seconds of each part of the stack while each shape ran: (governed, raw).
CPU: dict[str, tuple[CpuSample, CpuSample]] = {}


def cpu_row(label: str, shape: str, units: tuple[int, int]) -> None:
    """Milliseconds of CPU per unit (a loop, a flow) by part, governed then raw."""
    if shape not in CPU:
        return
    for side, sample, count in (("Gantral", CPU[shape][0], units[0]),
                                ("raw", CPU[shape][1], units[1])):  # fmt: skip
        each = {part: 1000 * s / max(count, 1) for part, s in sample.items()}
        parts = ", ".join(f"{part} {ms:.0f}" for part, ms in each.items() if ms >= 0.5)
        total = sum(each.values())
        print(f"    {label}, {side}: {total:.0f} ms CPU each ({parts})")


def report(a: argparse.Namespace, figures: dict[str, tuple[Figures, Figures]]) -> None:
    decision, allowed, steady, looped = (figures[s] for s in
                                         ("decision", "allowed", "steady", "loop"))  # fmt: skip

    def p50(pair: tuple[Figures, Figures], name: str, label: str, target: str) -> None:
        print(row(label, pair[0].ms(name), pair[1].ms(name), "ms", target))

    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {a.load:.1f} at the start and {load:.1f} at the "
          "end; Temporal dev server")  # fmt: skip
    sinks = "sink" if a.sinks == 1 else f"{a.sinks} sink replicas"
    where = "in this one process" if a.one_process else "each a process (as `make run`)"
    print(f"(SQLite file); API, worker and {sinks} {where}, raw worker in this one,")
    print("clients in another;")
    print(f"p50 of {a.sequential} instances one at a time unless said; approvers decide")
    print(f"{a.think * 1000:.0f} ms after the request opens (not timed)")
    print(f"  {'path':<36} {'Gantral':>8}      {'raw':>12}       {'ratio':>5}")
    p50(decision, "answered", "decision answered", "target <= 1.3x")
    p50(decision, "to_grant", "decision -> grant seen by the agent", "target <= 1.5x")
    p50(allowed, "start", "start (for reference)", "no target")
    p50(allowed, "first_authorize", "first authorize after start, ALLOW", "target <= 1.3x")
    p50(allowed, "step", "governed step (first after start)", "target <= 1.3x")
    steps = f"{a.steps} steps on one instance"
    p50(steady, "authorize", "authorize ALLOW, steady state", f"target <= 1.3x; {steps}")
    p50(steady, "step", "governed step, steady state", steps)
    gov, raw = looped
    agents = f"{a.agents} agents x {a.seconds:.0f} s; {gov.count} and {raw.count} loops"
    print(row("looping agents: steps/s", gov.rate, raw.rate, "/s", f"target >= 0.8x; {agents}"))
    print(row("looping agents: p99 of one loop", gov.ms("loop", 0.99), raw.ms("loop", 0.99),
              "ms", "target <= 1.5x"))  # fmt: skip
    print(row("looping agents: p50 of one loop", gov.ms("loop"), raw.ms("loop"), "ms",
              "no target"))  # fmt: skip
    cpu_row("one loop", "loop", (gov.count, raw.count))
    if "flows" in figures:
        gov, raw = figures["flows"]
        flows = f"{a.flows} concurrent approval flows"
        print(row("approval flows: flows/s", gov.rate, raw.rate, "/s", f"target >= 0.5x; {flows}"))
        print(row("approval flows: decision p99", gov.ms("answered", 0.99),
                  raw.ms("answered", 0.99), "ms", "target <= 2x"))  # fmt: skip
        cpu_row("one flow", "flows", (a.flows, a.flows))
    print("CPU by part: the raw shapes' worker runs in this process; the clients are not counted.")


if __name__ == "__main__":
    # The test helpers mint real tokens from a development-issuer key.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    args = parser().parse_args()
    args.load = os.getloadavg()[0]  # how busy the machine was before this run
    report(args, asyncio.run(measure(args)))

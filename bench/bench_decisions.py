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
import sys
from pathlib import Path

import psycopg
from raw_shapes import DSN, Bare, RawDecision, write_row
from stack import bench_stack
from temporalio.worker import Worker
from timing import Drive, Figures, tokens

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


def _report(label: str, raw: Figures, gov: Figures) -> None:
    dec, rtt = gov.ms("answered"), raw.ms("answered")
    grant, done = gov.ms("to_grant"), raw.ms("to_grant")
    print(f"{label}")
    print(f"  decision answered p50   {dec:7.1f} ms   raw Update round trip {rtt:6.1f} ms   "
          f"{dec / rtt:4.1f}x (target <= 1.5x)")  # fmt: skip
    print(f"  decision -> grant p50   {grant:7.1f} ms   raw decide -> completed {done:6.1f} ms   "
          f"{grant / done:4.1f}x (target <= 1.5x)")  # fmt: skip
    print(f"  decision p99            {gov.ms('answered', 0.99):7.1f} ms   (target < 1000 ms)")
    print(f"  throughput              {gov.rate:7.1f} /s   raw {raw.rate:6.1f} /s   "
          f"{gov.rate / raw.rate:4.2f}x (target >= 0.7x)")  # fmt: skip


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
            drive = Drive(stack.api_url, stack.settings.temporal.address, tokens())
            await drive("decision", instances=3, think=think)  # warm up imports, pools, sandbox
            await drive("decision-raw", instances=3)
            one_raw = await drive("decision-raw", instances=sequential)
            one_gov = await drive("decision", instances=sequential, think=think)
            bare = (await drive("bare", instances=n)).rate
            many_raw = await drive("decision-raw", instances=n, concurrent=True)
            many_gov = await drive("decision", instances=n, concurrent=True, think=think)
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
    args = parser.parse_args()
    asyncio.run(main(args.instances, args.sequential, args.think))

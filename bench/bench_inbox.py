"""The approver inbox (`GET /v1/requests?pending_for=me`) as waiting requests pile up.

Instances are started and authorized into WAITING_FOR_HUMAN through the API (real bearer
tokens, the audit sink storing every fact), up to each count in turn; at each count the
inbox's first page is read `--samples` times (p50/p99), then every page once, by
`next_page_token`, to the end (how long an approver tool takes to see everything).

    .venv/bin/python bench/bench_inbox.py [--counts 0,200,1000] [--page 50]
    .venv/bin/python bench/bench_inbox.py --counts 0,1000,4000,10000   # the issue's scale
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from stack import bench_stack

TEMPLATE = """
id: bench-inbox
steps:
  - id: deploy
    policy:
      materiality: HIGH
      requires_human_approval: true
      approvers: [{role: TECH_LEAD}]
      timeouts: {primary: 24h}
"""


async def _wait_for_human(api: httpx.AsyncClient, agent: dict[str, str], n: int) -> None:
    gate = asyncio.Semaphore(16)

    async def one() -> None:
        async with gate:
            body = {"workflow_id": "bench-inbox", "owning_team_id": "bench"}
            resp = await api.post("/v1/instances", json=body, headers=agent)
            resp.raise_for_status()
            iid = resp.json()["instance_id"]
            resp = await api.post(
                f"/v1/instances/{iid}/steps/deploy/authorize",
                json={"action": "deploy", "arguments": {"v": 1}},
                headers=agent,
            )
            assert resp.json()["outcome"] == "PENDING", resp.text

    await asyncio.gather(*(one() for _ in range(n)))


async def _page(
    api: httpx.AsyncClient, lead: dict[str, str], size: int, token: str | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {"pending_for": "me", "limit": size}
    if token:
        params["page_token"] = token
    resp = await api.get("/v1/requests", params=params, headers=lead)
    resp.raise_for_status()
    page: dict[str, Any] = resp.json()
    return page


async def main(counts: list[int], samples: int, size: int) -> None:
    from tests.helpers.auth import bearer  # needs the repo root on sys.path

    agent = bearer("bench-agent", teams=["bench"], agent=True)
    lead = bearer("alice", ["TECH_LEAD", "approver"], teams=["bench"])
    rows = []
    async with bench_stack("bench-inbox", TEMPLATE, api=True) as stack:
        assert stack.api_url is not None
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=120, limits=limits) as api:
            waiting = 0
            for count in sorted(counts):
                began = time.perf_counter()
                await _wait_for_human(api, agent, count - waiting)
                made = time.perf_counter() - began
                waiting = count
                await _page(api, lead, size)  # warm up
                latency = []
                for _ in range(samples):
                    t = time.perf_counter()
                    await _page(api, lead, size)
                    latency.append(time.perf_counter() - t)
                t, seen, pages, token = time.perf_counter(), 0, 0, None
                while True:
                    page = await _page(api, lead, size, token)
                    seen, pages, token = (
                        seen + len(page["items"]),
                        pages + 1,
                        page["next_page_token"],
                    )
                    if token is None:
                        break
                every = time.perf_counter() - t
                quantiles = (
                    statistics.quantiles(latency, n=100) if len(latency) > 1 else latency * 99
                )
                rows.append(
                    (count, statistics.median(latency), quantiles[98], seen, pages, every, made)
                )
    print(f"approver inbox, first page of {size}; Temporal dev server (SQLite file),")
    print("API, worker and sink in this one process")
    print(
        f"{'waiting':>8} {'p50 ms':>8} {'p99 ms':>8} {'listed':>7} {'pages':>6} {'all pages s':>12}"
    )
    for count, p50, p99, seen, pages, every, _ in rows:
        print(
            f"{count:>8} {p50 * 1000:>8.1f} {p99 * 1000:>8.1f} {seen:>7} {pages:>6} {every:>12.2f}"
        )
    if len(rows) > 1:
        made = sum(r[6] for r in rows)
        print(f"(waiting requests opened at {rows[-1][0] / made:.1f}/s through the API)")


if __name__ == "__main__":
    # The test helpers mint real tokens from a development-issuer key.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", default="0,200,1000", help="waiting requests, comma-separated")
    parser.add_argument("--samples", type=int, default=30, help="first-page reads per count")
    parser.add_argument("--page", type=int, default=50, help="items per page")
    args = parser.parse_args()
    asyncio.run(main([int(c) for c in args.counts.split(",")], args.samples, args.page))

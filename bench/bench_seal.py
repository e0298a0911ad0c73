"""The sink's answer to an instance's last batch (its end and seal), against the same batch
unsealed, in one run on one embedded PostgreSQL and SeaweedFS (issue 28).

The seal's batch is the one the workflow's final audit activity waits on. Each instance
first stores a start batch of three events, then its last batch of two: ending in the
seal (governed) or not (the baseline: the same batch with nothing after its commit).
Timed on the sink service (`AuditSink.append`), one at a time and `--concurrent` at once.

    .venv/bin/python bench/bench_seal.py [--instances 40] [--concurrent 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from stack import sink_stack

from gantral.audit.testing import make_events, unique
from gantral.domain.audit_event import AppendAuditEvents


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--instances", type=int, default=40, help="instances one at a time")
    p.add_argument("--concurrent", type=int, default=20, help="instances at once")
    return p


async def _measure(sink: object, n: int, sealed: bool, at_once: int) -> list[float]:
    """Seconds each instance's last batch took, `at_once` instances in flight."""
    from gantral.audit.sink import AuditSink

    assert isinstance(sink, AuditSink)
    took: list[float] = []
    gate = asyncio.Semaphore(at_once)

    async def one() -> None:
        iid = unique("seal" if sealed else "open")
        events = make_events(iid, 5, sealed=sealed)
        async with gate:
            await sink.append(AppendAuditEvents(instance_id=iid, events=events[:3]))
            t = time.perf_counter()
            await sink.append(AppendAuditEvents(instance_id=iid, events=events[3:]))
            took.append(time.perf_counter() - t)

    await asyncio.gather(*(one() for _ in range(n)))
    return took


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(a: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    async with sink_stack() as (ts, _):
        await _measure(ts.sink, 5, True, 1)  # warm up pools, bucket, tree
        await _measure(ts.sink, 5, False, 1)
        rows = []
        for label, at_once, n in (
            ("one at a time", 1, a.instances),
            (f"{a.concurrent} at once", a.concurrent, a.concurrent * 3),
        ):
            plain = await _measure(ts.sink, n, False, at_once)
            sealed = await _measure(ts.sink, n, True, at_once)
            rows.append((label, sealed, plain))
        exports = getattr(ts.sink, "exports", None)
        if exports is not None:  # exported after the answers: not timed above
            t = time.perf_counter()
            done = await exports.drain()
            print(f"then {len(done)} bundles exported in {time.perf_counter() - t:.1f} s")
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the start and "
          f"{os.getloadavg()[0]:.1f} at the end; the sink service, in this process")  # fmt: skip
    print(f"  {'last batch (end + seal)':<32} {'sealed':>10} {'unsealed':>10}  ratio")
    for label, sealed, plain in rows:
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            s, p = _ms(sealed, q), _ms(plain, q)
            print(f"  {label + ' ' + name:<32} {s:7.1f} ms {p:7.1f} ms  {s / p:4.2f}x")


if __name__ == "__main__":
    asyncio.run(main(parser().parse_args()))

"""What one of the sink's periodic rounds reads, as the audit log grows (issue 28).

The sink exports sealed chains, archives their histories and detects closures in rounds
(every checkpoint interval, every 30 s), on every replica. Each round used to read the
whole log: the seals anti-joined with the bundles, every seal row, every chain's first
event. A round now reads what was appended since the previous one
(`gantral.audit.log_rounds`); the first round after a start still reads everything, so
it is the baseline, measured in the same run on the same log.

The log is filled with `--chains` sealed, exported and archived chains written straight
into the tables (three events each; the reads do not check hashes), then `--recent`
chains are appended through the sink service as a round's worth of new work.

    .venv/bin/python bench/bench_rounds.py [--chains 20000 100000] [--recent 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import sql
from stack import sink_stack

from gantral.audit.history_archive import HISTORY_CHAIN_PREFIX
from gantral.audit.testing import make_events, unique
from gantral.domain.audit_event import AppendAuditEvents

# Three events per chain: its first (of a type the read model ignores), one more, its seal;
# each sealed chain has a bundle and a sealed history chain (two events) beside it.
_FILL = """
INSERT INTO {events} (log_index, instance_id, seq, type, at, body, prev_hash, hash)
SELECT {base} + 5 * i + k, CASE WHEN k < 3 THEN {old} || i ELSE {history} || {old} || i END,
       CASE WHEN k < 3 THEN k + 1 ELSE k - 2 END,
       CASE k WHEN 0 THEN 'BENCH_FILL' WHEN 2 THEN 'INSTANCE_SEALED'
              WHEN 4 THEN 'INSTANCE_SEALED' ELSE 'HISTORY_ARCHIVED' END,
       now(), '\\x7b7d'::bytea, '\\x00'::bytea, '\\x00'::bytea
FROM generate_series(0, %(n)s - 1) i, generate_series(0, 4) k;
INSERT INTO {seals} (instance_id, seq, log_index, head_hash)
SELECT {old} || i, 3, {base} + 5 * i + 2, '\\x00'::bytea FROM generate_series(0, %(n)s - 1) i
UNION ALL
SELECT {history} || {old} || i, 2, {base} + 5 * i + 4, '\\x00'::bytea
FROM generate_series(0, %(n)s - 1) i;
INSERT INTO {bundles} (instance_id, object_key, sha256)
SELECT c, 'bundles/' || c, md5(c) FROM (
  SELECT {old} || i AS c FROM generate_series(0, %(n)s - 1) i
  UNION ALL SELECT {history} || {old} || i FROM generate_series(0, %(n)s - 1) i) chains;
ANALYZE {events}; ANALYZE {seals}; ANALYZE {bundles};
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--chains", type=int, nargs="+", default=[20_000, 100_000],
                   help="sealed chains already in the log, one measurement each")  # fmt: skip
    p.add_argument("--recent", type=int, default=50, help="chains appended since the last round")
    p.add_argument("--repeat", type=int, default=5, help="reads timed per figure (median)")
    return p


async def _median(read: Callable[[], Awaitable[object]], repeat: int) -> float:
    took = []
    for _ in range(repeat):
        t = time.perf_counter()
        await read()
        took.append(time.perf_counter() - t)
    return 1000 * sorted(took)[len(took) // 2]


async def _fill(ts: Any, dsn: str, n: int) -> None:
    """`n` sealed, exported and archived chains more, named apart from earlier fills."""
    import psycopg

    base = await ts.queries.log_top() + 1
    table = ts.writer.db.table
    query = sql.SQL(_FILL).format(
        events=table("events"), seals=table("seals"), bundles=table("bundles"),
        base=sql.Literal(base), history=sql.Literal(HISTORY_CHAIN_PREFIX),
        old=sql.Literal(f"old-{base}-"),
    )  # fmt: skip
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for statement in query.as_string(conn).split(";\n"):
            if statement.strip():
                await conn.execute(statement, {"n": n} if "%(n)s" in statement else None)


async def _measure(
    ts: Any, dsn: str, n: int, recent: int, repeat: int
) -> list[tuple[str, float, float]]:
    """(read, whole log ms, since the last round ms) for a log of `n` old chains."""
    await _fill(ts, dsn, n)
    upto = await ts.queries.log_top()
    for i in range(recent):  # a round's worth of new chains, half of them still open
        iid = unique("new")
        events = make_events(iid, 3, sealed=i % 2 == 0)
        await ts.sink.append(AppendAuditEvents(instance_id=iid, events=events))
    top = await ts.queries.log_top()
    q = ts.queries
    reads: list[tuple[str, Callable[[int], Awaitable[object]]]] = [
        ("export sweep: sealed, no bundle", lambda after: q.unexported_seals(after, top)),
        ("archiver: sealed, no history",
         lambda after: q.unarchived_seals(HISTORY_CHAIN_PREFIX, after, top)),
        ("closure detector: unsealed chains", lambda after: q.unsealed_chains(after, top)),
    ]  # fmt: skip
    rows = []
    for name, read in reads:
        whole = await _median(lambda read=read: read(-1), repeat)
        since = await _median(lambda read=read: read(upto), repeat)
        rows.append((name, whole, since))
    # What the archiver read each round before: every seal row, fetched.
    rows.append(("(archiver before: every seal row)", await _median(q.seals, repeat), float("nan")))
    return rows


async def main(a: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    results = []
    async with sink_stack() as (ts, dsn):
        filled = 0
        for n in sorted(a.chains):
            rows = await _measure(ts, dsn, n - filled, a.recent, a.repeat)
            filled = n
            results.append((n, rows))
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the start and "
          f"{os.getloadavg()[0]:.1f} at the end; embedded PostgreSQL, median of "
          f"{a.repeat} reads; {a.recent} chains appended since the last round")  # fmt: skip
    print(f"  {'chains in the log / read':<44} {'whole log':>10} {'since':>9}  ratio")
    for n, rows in results:
        print(f"  {n:,} chains")
        for name, whole, since in rows:
            if since != since:  # NaN: no incremental form
                print(f"    {name:<42} {whole:7.1f} ms")
            else:
                print(f"    {name:<42} {whole:7.1f} ms {since:6.2f} ms  {since / whole:5.3f}x")


if __name__ == "__main__":
    asyncio.run(main(parser().parse_args()))

"""Audit sink benchmark: ingest (events/s stored with chaining) and offline verification.

Starts an embedded PostgreSQL in a temporary directory and prints each figure next to a
baseline measured in the same run on the same machine:

- ingest: encode (RFC 8785) + chain + idempotency/gap checks + COPY, batched per
  instance, several appenders in parallel; baseline = raw COPY of rows of the same shape
  into an unconstrained table.
- verification: recompute every chain hash, check links/seqs/bodies, rebuild the Merkle
  root; baseline = bare SHA-256 over the same bodies.

Usage: .venv/bin/python bench/bench_audit.py [--instances 400] [--events 50]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from pathlib import Path

import psycopg

from gantral.audit.db import Database, open_pool
from gantral.audit.encoding import encode_body, format_at
from gantral.audit.merkle import MerkleTree
from gantral.audit.migrations import migrate
from gantral.audit.queries import AuditQueries
from gantral.audit.rows import EventRow, PreparedEvent
from gantral.audit.store import AuditWriter
from gantral.audit.testing import make_events, unique
from gantral.audit.verify import verify_chain
from gantral.devstack.services import Postgres
from gantral.settings.audit import AuditSettings


def _prepare(iid: str, n: int) -> list[PreparedEvent]:
    return [
        PreparedEvent(e.seq, str(e.type), format_at(e.at), encode_body(e, None))
        for e in make_events(iid, n, sealed=False)
    ]


async def _baseline_copy(dsn: str, batches: list[list[PreparedEvent]]) -> float:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute(
            "CREATE TEMP TABLE raw_events (log_index bigint, instance_id text, seq bigint,"
            " type text, at timestamptz, body bytea, prev_hash bytea, hash bytea)"
        )
        start, index = time.perf_counter(), 0
        for batch in batches:
            async with conn.transaction(), conn.cursor().copy("COPY raw_events FROM STDIN") as copy:
                for e in batch:
                    await copy.write_row((index, "x", e.seq, e.type, e.at, e.body, b"", b""))
                    index += 1
        return time.perf_counter() - start


async def _ingest(
    writer: AuditWriter, instances: int, events: int, batch: int, workers: int
) -> float:
    ids = [unique("bench") for _ in range(instances)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for iid in ids:
        queue.put_nowait(iid)

    async def worker() -> None:
        while not queue.empty():
            iid = queue.get_nowait()
            for chunk_start in range(1, events + 1, batch):
                chunk = make_events(
                    iid, min(batch, events - chunk_start + 1), start=chunk_start, sealed=False
                )
                prepared = [
                    PreparedEvent(e.seq, str(e.type), format_at(e.at), encode_body(e, None))
                    for e in chunk
                ]
                await writer.append(iid, prepared)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - start


def _verify(chains: dict[str, list[EventRow]], leaves: list[bytes]) -> float:
    start = time.perf_counter()
    problems = []
    for iid, rows in chains.items():
        problems += verify_chain(iid, rows, None)
    MerkleTree(leaves).root()
    elapsed = time.perf_counter() - start
    assert not problems, problems[:3]
    return elapsed


def _sha_baseline(bodies: list[bytes]) -> float:
    start = time.perf_counter()
    for body in bodies:
        hashlib.sha256(body).digest()
    return time.perf_counter() - start


async def main(instances: int, events: int, batch: int, workers: int) -> None:
    total = instances * events
    with tempfile.TemporaryDirectory(prefix="gantral-bench-") as tmp:
        pg = Postgres(Path(tmp) / "pg")
        dsn = pg.start()
        try:
            config = AuditSettings(schema_name=unique("bench"))
            await migrate(dsn, config)
            pool = await open_pool(dsn, config.writer_role, max_size=workers)
            db = Database(config, pool=pool)
            baseline = await _baseline_copy(
                dsn, [_prepare(unique("b"), batch) for _ in range(total // batch)]
            )
            ingest = await _ingest(AuditWriter(db), instances, events, batch, workers)
            queries = AuditQueries(db)
            chains: dict[str, list[EventRow]] = {}
            async for row in queries.all_events():
                chains.setdefault(row.instance_id, []).append(row)
            leaves = [r.hash for r in await queries.leaves()]
            await pool.close()
        finally:
            pg.stop()
    verify = _verify(chains, leaves)
    sha = _sha_baseline([r.body for rows in chains.values() for r in rows])
    setup = f"{instances} instances x {events}, batches of {batch}, {workers} appenders"
    print(f"events: {total} ({setup}; no snapshots, so no object-storage writes)")
    print(f"ingest (encode+chain+store):   {total / ingest:10,.0f} events/s")
    print(f"  baseline raw COPY:           {total / baseline:10,.0f} rows/s")
    print(f"  ingest / raw COPY:           {baseline / ingest:10.2f}")
    print(f"verify offline (chain+merkle): {total / verify:10,.0f} events/s")
    print(f"  baseline bare sha256:        {total / sha:10,.0f} hashes/s")
    print(f"  verify / bare sha256:        {sha / verify:10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=400)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.instances, args.events, args.batch, args.workers))

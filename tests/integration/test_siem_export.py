"""The SIEM exporter on the real PostgreSQL: events committed by the sink go out as
CloudEvents to an HTTP receiver (its own process) and as OCSF JSON lines, at least once,
in order per instance, resumable from the stored cursor; a throttling receiver is
retried after its Retry-After, a failing one dead-letters and the stream moves on; and
the exporter and its receiver killed at random lose nothing.

The kill test runs `GANTRAL_SIEM_KILL_INSTANCES` instances (40 by default, to stay within
a CI minute); the issue's 200 is `GANTRAL_SIEM_KILL_INSTANCES=200`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import rfc8785
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql
from pydantic import SecretStr

from gantral.audit.siem_feed import committed_after
from gantral.audit.testing import TestSink, make_events, open_test_sink, unique
from gantral.devstack.process import free_port, port_open
from gantral.domain.audit_event import AppendAuditEvents, AuditEvent
from gantral.settings import DatabaseSettings, Settings
from gantral.settings.exporter import ExporterSettings
from gantral.workers.exporter import run_exporter
from tests.helpers.processes import ROOT, Process, environment

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture
async def ts(stack: Any) -> AsyncIterator[TestSink]:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as sink:
        yield sink


class Receiver:
    """`tests.helpers.siem_receiver` as a process on one port and one file, restartable."""

    def __init__(self, out: Path, mode: str = "ok") -> None:
        self.out = out
        self.mode = mode
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self) -> None:
        argv = [sys.executable, "-m", "tests.helpers.siem_receiver", "--port", str(self.port)]
        argv += ["--out", str(self.out), "--mode", self.mode]
        self.popen = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not port_open(self.port):
            assert time.monotonic() < deadline, "receiver did not listen"
            assert self.popen.poll() is None, "receiver exited"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def requests(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        found = []
        for line in self.out.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):  # torn by a kill: re-sent
                found.append(json.loads(line))
        return found

    def delivered(self) -> list[dict[str, Any]]:
        return [r["event"] for r in self.requests() if r["status"] == 200]


@pytest.fixture
def receivers(tmp_path: Path) -> Any:
    made: list[Receiver] = []

    def make(mode: str = "ok") -> Receiver:
        receiver = Receiver(tmp_path / f"received-{len(made)}.jsonl", mode)
        receiver.start()
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.kill()


def _settings(stack: Any, ts: TestSink, **exporter: Any) -> Settings:
    defaults: dict[str, Any] = {
        "name": unique("siem"),
        "schema_name": unique("export_t"),
        "poll_interval_seconds": 0.1,
        "backoff_initial_seconds": 0.05,
        "backoff_max_seconds": 0.2,
        "timeout_seconds": 2.0,
    }
    return Settings(
        database=DatabaseSettings(reader_url=SecretStr(stack.postgres_uri)),
        audit=ts.config,
        exporter=ExporterSettings.model_validate({**defaults, **exporter}),
    )


async def _append(ts: TestSink, events: list[AuditEvent]) -> None:
    await ts.sink.append(AppendAuditEvents(instance_id=events[0].instance_id, events=events))


async def _until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _exporting(settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_exporter(settings, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def _metrics(port: int) -> dict[str, float]:
    """The exporter's metrics; none while its server is not up yet."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    except httpx.ConnectError:
        return {}
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("gantral_export")
    }


async def _dead_letters(dsn: str, settings: Settings) -> list[tuple[Any, ...]]:
    query = sql.SQL(
        "SELECT log_index, event_id, attempts, error FROM {}.dead_letters"
        " WHERE exporter = %s ORDER BY log_index"
    ).format(sql.Identifier(settings.exporter.schema_name))
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(query, (settings.exporter.name,))
        return list(await cur.fetchall())


def _in_order_once(events: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Per instance, the seqs in arrival order after de-duplication by id (first kept)."""
    seen: set[str] = set()
    order: dict[str, list[int]] = {}
    for event in events:
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        order.setdefault(event["subject"], []).append(event["gantralseq"])
    return order


async def test_cloudevents_carry_the_committed_events_in_order(
    stack: Any, ts: TestSink, receivers: Any
) -> None:
    receiver = receivers()
    ids = [unique("inst") for _ in range(3)]
    streams = {iid: make_events(iid, 6) for iid in ids}
    for i in range(0, 6, 2):  # interleaved batches: the log mixes the instances
        for iid in ids:
            await _append(ts, streams[iid][i : i + 2])
    settings = _settings(stack, ts, to="cloudevents", url=receiver.url, source="urn:test:siem")
    async with _exporting(settings):
        await _until(lambda: len(receiver.delivered()) >= 18)
    requests = receiver.requests()
    assert len(requests) == 18, "each event exactly once on a healthy receiver"
    assert {r["content_type"] for r in requests} == {"application/cloudevents+json"}
    assert _in_order_once(receiver.delivered()) == {iid: list(range(1, 7)) for iid in ids}
    for iid in ids:
        stored = {row.seq: row for row in await ts.queries.instance_events(iid)}
        for event in (e for e in receiver.delivered() if e["subject"] == iid):
            row = stored[event["gantralseq"]]
            assert event["specversion"] == "1.0"
            assert event["id"] == f"{iid}:{row.seq}"
            assert event["source"] == "urn:test:siem"
            assert event["type"] == "dev.gantral.audit." + row.type.lower()
            assert event["time"] == event["data"]["at"]
            assert event["gantrallogindex"] == row.log_index
            assert event["gantralhash"] == row.hash.hex()
            # The record alone recomputes the chain link and the Merkle leaf.
            body = rfc8785.dumps(event["data"])
            assert body == row.body
            prev = bytes.fromhex(event["gantralprevhash"])
            assert hashlib.sha256(prev + body).hexdigest() == event["gantralhash"]
            leaf = hashlib.sha256(b"\x00" + row.hash).hexdigest()
            assert event["gantralleafhash"] == leaf
    # Log order overall: indices strictly increase as they arrive.
    indices = [e["gantrallogindex"] for e in receiver.delivered()]
    assert indices == sorted(indices) == list(range(18))


async def test_retry_after_is_honoured(stack: Any, ts: TestSink, receivers: Any) -> None:
    receiver = receivers("throttle")
    iid = unique("inst")
    await _append(ts, make_events(iid, 3))
    port = free_port()
    settings = _settings(stack, ts, to="cloudevents", url=receiver.url, metrics_port=port)
    async with _exporting(settings):
        # The receiver logs a request before answering it: wait for the exporter's count.
        await _until(lambda: _metrics(port).get("gantral_export_events_total") == 3)
        metrics = _metrics(port)
    requests = receiver.requests()
    assert [r["status"] for r in requests] == [429, 200] * 3
    for refused, accepted in zip(requests[::2], requests[1::2], strict=True):
        assert refused["event"]["id"] == accepted["event"]["id"]
        # Backoff alone would retry within 0.2 s; the receiver asked for 1 s.
        assert accepted["t"] - refused["t"] >= 0.95
    assert metrics["gantral_export_retries_total"] == 3
    assert metrics["gantral_export_events_total"] == 3
    assert metrics["gantral_export_dead_letters_total"] == 0
    assert await _dead_letters(stack.postgres_uri, settings) == []


async def test_a_failing_receiver_dead_letters_and_the_stream_moves_on(
    stack: Any, ts: TestSink, receivers: Any
) -> None:
    receiver = receivers("fail")
    iid = unique("inst")
    await _append(ts, make_events(iid, 4))
    port = free_port()
    settings = _settings(
        stack, ts, to="cloudevents", url=receiver.url, metrics_port=port, max_attempts=3
    )
    async with _exporting(settings):
        await _until(lambda: _metrics(port).get("gantral_export_cursor_log_index") == 3)
        metrics = _metrics(port)
    assert len(receiver.requests()) == 12, "three attempts per event, then on to the next"
    assert metrics["gantral_export_dead_letters_total"] == 4
    assert metrics["gantral_export_events_total"] == 0
    letters = await _dead_letters(stack.postgres_uri, settings)
    assert [(li, eid, n) for li, eid, n, _ in letters] == [
        (seq - 1, f"{iid}:{seq}", 3) for seq in range(1, 5)
    ]
    assert all("HTTP 503" in error for *_, error in letters)


async def test_ocsf_lines_carry_the_proof_fields(stack: Any, ts: TestSink, tmp_path: Path) -> None:
    iid = unique("inst")
    await _append(ts, make_events(iid, 5))
    out = tmp_path / "ocsf.jsonl"
    settings = _settings(stack, ts, to="ocsf", file=str(out))
    async with _exporting(settings):
        await _until(lambda: out.exists() and len(out.read_text().splitlines()) >= 5)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    stored = await ts.queries.instance_events(iid)
    assert len(records) == 5
    for record, row in zip(records, stored, strict=True):
        assert record["class_uid"] == 6003
        assert record["type_uid"] == 6003 * 100 + record["activity_id"]
        assert record["metadata"]["uid"] == f"{iid}:{row.seq}"
        assert record["metadata"]["sequence"] == row.log_index
        assert record["api"]["operation"] == row.type
        gantral = record["unmapped"]["gantral"]
        assert (gantral["log_index"], gantral["hash"]) == (row.log_index, row.hash.hex())
        assert rfc8785.dumps(gantral["event"]) == row.body
    assert records[0]["activity_id"] == 1  # INSTANCE_STARTED: Create


async def test_a_restarted_exporter_resumes_from_its_cursor(
    stack: Any, ts: TestSink, receivers: Any, tmp_path: Path
) -> None:
    receiver = receivers()
    iid = unique("inst")
    events = make_events(iid, 20)
    await _append(ts, events[:8])
    settings = _settings(stack, ts, to="cloudevents", url=receiver.url)
    log = tmp_path / "exporter.log"
    first = Process("exporter", environment(settings), log)
    try:
        await _until(lambda: len(receiver.delivered()) >= 8)
        first.terminate()
        assert first.wait() == 0
        first.check_clean_exit()
    finally:
        first.kill()
    await _append(ts, events[8:14])  # committed while no exporter runs
    second = Process("exporter", environment(settings), log)
    try:
        await _until(lambda: len(receiver.delivered()) >= 14)
        second.popen.kill()  # a crash, not a stop
        second.popen.wait()
    finally:
        second.kill()
    await _append(ts, events[14:])
    third = Process("exporter", environment(settings), log)
    try:
        await _until(
            lambda: (
                len(receiver.delivered()) >= 20
                and len({e["id"] for e in receiver.delivered()}) == 20
            )
        )
        third.terminate()
        assert third.wait() == 0
    finally:
        third.kill()
    delivered = receiver.delivered()
    assert _in_order_once(delivered) == {iid: list(range(1, 21))}
    # A clean stop saved its cursor: the first 8 went out once each.
    assert [e["gantralseq"] for e in delivered[:8]] == list(range(1, 9))
    assert sum(1 for e in delivered if e["gantralseq"] <= 8) == 8


async def test_killing_exporter_and_receiver_loses_nothing(
    stack: Any, ts: TestSink, receivers: Any, tmp_path: Path
) -> None:
    count = int(os.environ.get("GANTRAL_SIEM_KILL_INSTANCES", "40"))
    per_instance = 8
    receiver = receivers()
    settings = _settings(
        stack,
        ts,
        to="cloudevents",
        url=receiver.url,
        batch_size=25,
        max_attempts=1000,  # outlives every receiver outage of this test
        timeout_seconds=1.0,
    )
    log = tmp_path / "exporter.log"
    exporter = Process("exporter", environment(settings), log)
    ids = [unique("inst") for _ in range(count)]
    rng = random.Random(26)

    # As many appends in flight as the test sink's pool has connections (commits take
    # one lock anyway): 200 instances at once would wait out the pool's timeout.
    appending = asyncio.Semaphore(6)

    async def instance(iid: str) -> None:
        events = make_events(iid, per_instance)
        i = 0
        while i < per_instance:
            n = rng.randint(1, 3)
            async with appending:
                await _append(ts, events[i : i + n])
            i += n
            await asyncio.sleep(rng.uniform(0.0, 0.3))

    async def killer(done: asyncio.Event) -> int:
        nonlocal exporter
        kills = 0
        while not done.is_set() or kills < 4:
            await asyncio.sleep(rng.uniform(0.3, 0.8))
            if kills % 2 == 0:  # both are killed, at random moments
                exporter.popen.kill()
                exporter.popen.wait()
                await asyncio.sleep(rng.uniform(0.0, 0.3))
                exporter = Process("exporter", environment(settings), log)
            else:
                receiver.kill()
                await asyncio.sleep(rng.uniform(0.0, 0.5))
                receiver.start()
            kills += 1
        return kills

    try:
        done = asyncio.Event()
        killing = asyncio.create_task(killer(done))
        await asyncio.gather(*(instance(iid) for iid in ids))
        done.set()
        kills = await killing
        expected = {f"{iid}:{seq}" for iid in ids for seq in range(1, per_instance + 1)}
        await _until(lambda: {e["id"] for e in receiver.delivered()} >= expected, timeout=60)
    finally:
        exporter.kill()
    delivered = receiver.delivered()
    assert {e["id"] for e in delivered} == expected
    order = _in_order_once(delivered)
    assert order == {iid: list(range(1, per_instance + 1)) for iid in ids}
    assert kills >= 4
    assert await _dead_letters(stack.postgres_uri, settings) == []


async def test_two_exporters_of_one_name_deliver_once(
    stack: Any, ts: TestSink, receivers: Any
) -> None:
    """A rollout's old and new process (or two replicas): one exports, one stands by."""
    receiver = receivers()
    ids = [unique("inst") for _ in range(4)]
    settings = _settings(stack, ts, to="cloudevents", url=receiver.url)
    async with _exporting(settings), _exporting(settings):
        for iid in ids:
            for event in make_events(iid, 5):
                await _append(ts, [event])
        await _until(lambda: len(receiver.delivered()) >= 20)
        await asyncio.sleep(0.5)  # a second deliverer would have sent its copies by now
    delivered = receiver.delivered()
    assert len(delivered) == 20
    assert _in_order_once(delivered) == {iid: list(range(1, 6)) for iid in ids}


async def test_stream_command_writes_ocsf_to_stdout(
    stack: Any, ts: TestSink, tmp_path: Path
) -> None:
    """`gantral audit stream --to ocsf --file -`: records alone on stdout, logs on stderr."""
    iid = unique("inst")
    await _append(ts, make_events(iid, 4))
    settings = _settings(stack, ts)
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    env = environment(settings, GANTRAL_LOG__FORMAT="json")
    argv = [sys.executable, "-c", "from gantral.cli import main; main()", "audit", "stream"]
    argv += ["--to", "ocsf", "--file", "-", "--name", settings.exporter.name]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
        try:
            await _until(lambda: len(out.read_text().splitlines()) >= 4)
            proc.terminate()
            assert proc.wait(30) == 0, err.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["metadata"]["uid"] for r in records] == [f"{iid}:{seq}" for seq in range(1, 5)]
    assert "streaming the audit log to ocsf" in err.read_text()


async def test_a_hole_in_the_log_stops_the_batch_before_it(stack: Any, ts: TestSink) -> None:
    """An index not yet visible: nothing after it goes out first (per-instance order)."""
    iid, other = unique("inst"), unique("inst")
    await _append(ts, make_events(iid, 3))  # log indices 0..2
    body = json.dumps({"at": "2026-12-06T00:00:00.000000Z", "actor": {}, "payload": {}})
    insert = sql.SQL(
        "INSERT INTO {}.events (log_index, instance_id, seq, type, at, body, prev_hash, hash)"
        " VALUES (%s, %s, %s, 'AGENT_EVENT', now(), %s, %s, %s)"
    ).format(sql.Identifier(ts.config.schema_name))
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        await conn.execute(insert, (4, other, 2, body.encode(), bytes(32), bytes(32)))
        await conn.commit()
        assert [r.log_index for r in await committed_after(ts.queries.db, -1, 10)] == [0, 1, 2]
        assert await committed_after(ts.queries.db, 2, 10) == []
        await conn.execute(insert, (3, other, 1, body.encode(), bytes(32), bytes(32)))
        await conn.commit()
    assert [r.log_index for r in await committed_after(ts.queries.db, 2, 10)] == [3, 4]

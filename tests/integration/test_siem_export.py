"""The SIEM exporter on the real PostgreSQL: events committed by the sink go out as
CloudEvents to an HTTP receiver (its own process) and as OCSF JSON lines, at least once,
in order per instance, resumable from the stored cursor; a throttling receiver is
retried after its Retry-After, a failing one dead-letters and the stream moves on; and
the exporter and its receiver killed at random lose nothing.

The kill test runs `GANTRAL_SIEM_KILL_INSTANCES` real governed instances through the API,
the instance workflow and the sink (20 by default, to keep the suite's time); the issue's
200 is `GANTRAL_SIEM_KILL_INSTANCES=200`.
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
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from gantral.audit.siem_feed import ExportState, committed_after
from gantral.audit.testing import TestSink, make_events, open_test_sink, unique
from gantral.devstack.process import free_port, port_open
from gantral.domain.audit_event import AppendAuditEvents, AuditEvent
from gantral.settings import DatabaseSettings, Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.exporter import ExporterSettings
from gantral.workers.exporter import run_exporter
from tests.helpers.auth import AGENT, LEAD
from tests.helpers.lifecycle import authorize, decide, sealed_audit, start
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


async def _seed_cursor(dsn: str, settings: Settings) -> int:
    """Start the exporter after everything the session's log holds so far (the earlier
    tests' events): its last index, stored as the exporter's cursor."""
    events = sql.SQL("SELECT coalesce(max(log_index), -1) FROM {}.events").format(
        sql.Identifier(settings.audit.schema_name)
    )
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        row = await (await conn.execute(events)).fetchone()
    last = int(row[0]) if row else -1
    async with AsyncConnectionPool(dsn, open=False, min_size=1) as pool:
        state = ExportState(pool, settings.exporter.schema_name)
        await state.migrate()
        await state.advance(settings.exporter.name, last)
    return last


async def _governed(api: httpx.AsyncClient, rng: random.Random, approved: bool) -> str:
    """One real instance of the `deploy` template through the API: approved by a lead,
    run and completed; or started and cancelled. Its id."""
    iid = str((await start(api))["instance_id"])
    await asyncio.sleep(rng.uniform(0.0, 0.3))
    if not approved:
        cancelled = await api.post(f"/v1/instances/{iid}/cancel", json={}, headers=AGENT)
        assert cancelled.is_success, cancelled.text
        return iid
    pending = await authorize(api, iid)
    rid = pending["request"]["request_id"]
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    await asyncio.sleep(rng.uniform(0.0, 0.3))
    got = await api.get(f"/v1/instances/{iid}/requests/{rid}?wait=20", headers=AGENT)
    grant = got.json()["grant"]
    started = {"kind": "STEP_STARTED", "step_id": "deploy", "grant_id": grant["grant_id"],
               "args_digest": pending["args_digest"]}  # fmt: skip
    for event in (started, {"kind": "STEP_COMPLETED", "step_id": "deploy"}):
        sent = await api.post(f"/v1/instances/{iid}/events", json=event, headers=AGENT)
        assert sent.is_success, sent.text
    done = await api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT)
    assert done.status_code == 200, done.text
    return iid


async def test_killing_exporter_and_receiver_loses_nothing(
    stack: Any,
    api: httpx.AsyncClient,
    settings: Settings,
    audit_config: AuditSettings,
    receivers: Any,
    tmp_path: Path,
) -> None:
    """Real governed instances (API, workflow, sink) write the events streamed; the
    exporter and the receiver are SIGKILLed at random while they run."""
    count = int(os.environ.get("GANTRAL_SIEM_KILL_INSTANCES", "20"))
    batch = 10
    receiver = receivers()
    export = Settings(
        database=DatabaseSettings(reader_url=SecretStr(stack.postgres_uri)),
        audit=audit_config,
        exporter=ExporterSettings.model_validate(
            {
                "name": unique("siem"),
                "schema_name": unique("export_t"),
                "to": "cloudevents",
                "url": receiver.url,
                "batch_size": batch,
                "poll_interval_seconds": 0.1,
                "backoff_initial_seconds": 0.05,
                "backoff_max_seconds": 0.2,
                "timeout_seconds": 1.0,
                "max_attempts": 1000,  # outlives every receiver outage of this test
            }
        ),
    )
    seeded = await _seed_cursor(stack.postgres_uri, export)
    log = tmp_path / "exporter.log"
    exporter = Process("exporter", environment(export), log)
    rng = random.Random(26)
    # As many instances in flight at once as the API and the worker serve without
    # stretching every call: 200 at once on 2 cores would time out decisions.
    running = asyncio.Semaphore(12)

    async def instance(n: int) -> str:
        async with running:
            return await _governed(api, rng, approved=n % 4 != 3)

    kills = {"exporter": 0, "receiver": 0}

    async def killer(done: asyncio.Event) -> None:
        nonlocal exporter
        while not done.is_set() or sum(kills.values()) < 4:
            await asyncio.sleep(rng.uniform(0.3, 0.8))
            if sum(kills.values()) % 2 == 0:  # both are killed, at random moments
                exporter.popen.kill()  # SIGKILL: no clean stop, no cursor saved on exit
                exporter.popen.wait()
                kills["exporter"] += 1
                await asyncio.sleep(rng.uniform(0.0, 0.3))
                exporter = Process("exporter", environment(export), log)
            else:
                receiver.kill()
                kills["receiver"] += 1
                await asyncio.sleep(rng.uniform(0.0, 0.5))
                receiver.start()

    try:
        done = asyncio.Event()
        killing = asyncio.create_task(killer(done))
        ids = await asyncio.gather(*(instance(n) for n in range(count)))
        done.set()
        await killing
        stored = {iid: await sealed_audit(api, iid) for iid in ids}
        expected = {f"{iid}:{e['seq']}": e for iid, events in stored.items() for e in events}
        await _until(lambda: {e["id"] for e in receiver.delivered()} >= set(expected), 90)
    finally:
        exporter.kill()
    delivered = [e for e in receiver.delivered() if e["subject"] in stored]
    # Every event of every instance, each as the sink stored it ...
    assert {e["id"] for e in delivered} == set(expected)
    copies: dict[str, dict[str, Any]] = {}
    for event in delivered:
        row = expected[event["id"]]
        assert event["id"] == f"{event['subject']}:{event['gantralseq']}"
        assert (event["gantralseq"], event["gantrallogindex"]) == (row["seq"], row["log_index"])
        assert event["gantralhash"] == row["hash"] and event["type"].endswith(row["type"].lower())
        # ... and a redelivery is the same record under the same id.
        assert copies.setdefault(event["id"], event) == event, event["id"]
    order = _in_order_once(delivered)
    assert order == {iid: [e["seq"] for e in events] for iid, events in stored.items()}
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in order.values())
    # Each restart resumed from the stored cursor: nothing before the seeded cursor went
    # out, and a crash re-sends at most the batch it was in.
    everything = receiver.delivered()
    assert min(e["gantrallogindex"] for e in everything) > seeded
    duplicates = len(everything) - len({e["id"] for e in everything})
    assert duplicates <= (kills["exporter"] + kills["receiver"]) * batch, duplicates
    assert kills["exporter"] >= 2 and kills["receiver"] >= 2
    assert await _dead_letters(stack.postgres_uri, export) == []


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

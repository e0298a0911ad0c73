"""The sink's store on a real PostgreSQL and SeaweedFS: chaining, idempotency, roles."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from psycopg import sql

from gantral.audit.bundle import BUNDLE_PREFIX
from gantral.audit.bundle_verify import verify_bundle
from gantral.audit.checkpointer import (
    CHECKPOINT_PREFIX_KEY,
    Checkpointer,
    LogDivergence,
    cosigned_note_key,
)
from gantral.audit.db import Database, open_pool
from gantral.audit.queries import AuditQueries
from gantral.audit.sink import AuditSink
from gantral.audit.store import AuditWriter, SequenceGap
from gantral.audit.testing import TestSink, make_events, open_test_sink, unique
from gantral.audit.verifier import verify_database
from gantral.domain.audit_event import AppendAuditEvents
from gantral.errors import Conflict

pytestmark = pytest.mark.integration


@pytest.fixture
async def ts(stack: Any) -> AsyncIterator[TestSink]:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as sink:
        yield sink


def _req(iid: str, events: list[Any]) -> AppendAuditEvents:
    return AppendAuditEvents(instance_id=iid, events=events)


async def test_append_chains_and_reappend_is_a_noop(ts: TestSink) -> None:
    iid = unique("inst")
    events = make_events(iid, 10)
    first = await ts.sink.append(_req(iid, events[:4]))
    await ts.sink.append(_req(iid, events[4:]))
    again = await ts.sink.append(_req(iid, events[:4]))
    assert [s.hash for s in again.stored] == [s.hash for s in first.stored]
    rows = await ts.queries.instance_events(iid)
    assert [r.seq for r in rows] == list(range(1, 11))
    assert [r.log_index for r in rows] == list(range(10))
    report = await verify_database(ts.queries, objects=ts.objects, public_key=ts.key.public_key())
    assert report.ok, report.problems
    assert report.events == 10


async def test_different_event_at_stored_seq_is_a_conflict(ts: TestSink) -> None:
    iid = unique("inst")
    events = make_events(iid, 5, sealed=False)
    await ts.sink.append(_req(iid, events))
    forged = events[2].model_copy(update={"payload": {"n": 999}})
    with pytest.raises(Conflict):
        await ts.sink.append(_req(iid, [forged]))


async def test_gap_is_refused_until_missing_events_arrive(ts: TestSink) -> None:
    iid = unique("inst")
    events = make_events(iid, 6, sealed=False)
    await ts.sink.append(_req(iid, events[:2]))
    with pytest.raises(SequenceGap):
        await ts.sink.append(_req(iid, events[4:]))
    await ts.sink.append(_req(iid, events[2:4]))
    result = await ts.sink.append(_req(iid, events[4:]))
    assert [s.seq for s in result.stored] == [5, 6]


async def test_nothing_may_follow_a_seal(ts: TestSink) -> None:
    iid = unique("inst")
    await ts.sink.append(_req(iid, make_events(iid, 3)))
    with pytest.raises(Conflict):
        await ts.sink.append(_req(iid, make_events(iid, 1, start=4, sealed=False)))


async def test_a_seal_is_answered_before_its_export_then_exported_once(ts: TestSink) -> None:
    iid = unique("inst")
    events = make_events(iid, 12, snapshot_every=3)
    result = await ts.sink.append(_req(iid, events))
    # Answered on the commit: no checkpoint signed, no bundle written, the export queued.
    assert result.stored[-1].seq == 12 and (await ts.queries.seals(iid))[iid].seq == 12
    assert await ts.objects.keys(CHECKPOINT_PREFIX_KEY) == []
    assert await ts.queries.bundle_keys(iid) == []
    assert _unexported(await ts.queries.unexported_seals()) == [iid]
    assert ts.sink.exports.pending == [iid]
    await ts.sink.append(_req(iid, events[9:]))  # a retried seal queues it once
    assert ts.sink.exports.pending == [iid]

    assert await ts.sink.exports.drain() == [iid]
    keys = await ts.queries.bundle_keys(iid)
    assert len(keys) == 1
    data = await ts.objects.get(keys[0])
    assert data is not None and hashlib.sha256(data).hexdigest() in keys[0]
    bundle = json.loads(data)
    assert bundle["seal"]["seq"] == 12
    assert bundle["checkpoint"]["size"] >= 12
    assert len(bundle["snapshots"]) == 3
    assert verify_bundle(bundle, ts.key.public_key()) == []
    assert await ts.objects.keys(CHECKPOINT_PREFIX_KEY)
    # Nothing left, and exporting again (a retried seal) writes nothing new.
    await ts.sink.append(_req(iid, events[9:]))
    assert await ts.sink.exports.drain() == [iid]
    assert await ts.sink.exports.sweep() == []
    assert await ts.queries.bundle_keys(iid) == keys
    assert _unexported(await ts.queries.unexported_seals()) == []


async def test_a_seal_waits_while_the_log_contradicts_a_signed_checkpoint(ts: TestSink) -> None:
    """Tampering detected (by the last publish): other batches are stored, but a seal's
    append raises after its commit, so the instance retries it until an operator looks."""
    iid = unique("inst")
    events = make_events(iid, 4)
    ts.checkpointer.divergence = LogDivergence("log no longer matches signed checkpoint 3")
    await ts.sink.append(_req(iid, events[:3]))
    with pytest.raises(LogDivergence):
        await ts.sink.append(_req(iid, events[3:]))
    with pytest.raises(LogDivergence):  # the retry, the same
        await ts.sink.append(_req(iid, events[3:]))
    ts.checkpointer.divergence = None  # an operator restored the log; the next publish says
    assert [s.seq for s in (await ts.sink.append(_req(iid, events[3:]))).stored] == [4]


def _restarted(ts: TestSink, pool: Any = None) -> AuditSink:
    """A new sink process on the same log: nothing in memory, its own checkpointer."""
    db = ts.writer.db if pool is None else Database(ts.config, pool=pool)
    queries, writer = AuditQueries(db), AuditWriter(db)
    checkpointer = Checkpointer(queries, writer, ts.objects, ts.key, ts.config.origin)
    return AuditSink(writer, queries, ts.objects, checkpointer, ["$.prompt"])


async def test_a_seal_whose_export_was_lost_is_exported_by_the_sweep(
    ts: TestSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed, failed = unique("killed"), unique("failed")
    # The sink stops between the commit and the export: the queue dies with it.
    await ts.sink.append(_req(killed, make_events(killed, 5)))
    # The export fails (object storage refuses the bundle): left for the sweep.
    with _bundles_refused(ts, monkeypatch):
        await ts.sink.append(_req(failed, make_events(failed, 4)))
        assert [i for i in await ts.sink.exports.drain() if i == failed] == []
    assert set(_unexported(await ts.queries.unexported_seals())) == {killed, failed}

    restarted = _restarted(ts)
    assert restarted.exports.pending == []
    assert sorted(await restarted.exports.sweep()) == sorted([killed, failed])
    for iid in (killed, failed):
        [key] = await ts.queries.bundle_keys(iid)
        bundle = json.loads(await ts.objects.get(key) or b"{}")
        assert bundle["seal"]["seq"] == len(bundle["events"])
        assert verify_bundle(bundle, ts.key.public_key()) == []
    assert _unexported(await ts.queries.unexported_seals()) == []


async def test_a_later_sweep_reads_only_the_seals_stored_since_and_retries_the_rest(
    ts: TestSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep's read of the log starts where the last one ended (it would otherwise grow
    with every seal ever stored); a chain whose export failed is retried from memory."""
    sweeper = _restarted(ts)  # woken by nothing: only its sweeps export
    reads: list[tuple[int, int, list[str]]] = []
    read = sweeper.queries.unexported_seals

    async def reading(after: int = -1, upto: int = 2**62) -> list[tuple[str, int]]:
        found = await read(after, upto)
        reads.append((after, upto, _unexported(found)))
        return found

    monkeypatch.setattr(sweeper.queries, "unexported_seals", reading)
    first, failed, later = unique("first"), unique("failed"), unique("later")
    await ts.sink.append(_req(first, make_events(first, 3)))
    assert await sweeper.exports.sweep() == [first]

    with _bundles_refused(ts, monkeypatch):
        await ts.sink.append(_req(failed, make_events(failed, 3)))
        assert await sweeper.exports.sweep() == []
    await ts.sink.append(_req(later, make_events(later, 3)))
    assert await sweeper.exports.sweep() == [failed, later]
    assert await sweeper.exports.sweep() == []

    # Each read starts where the previous ended, at the log's top when it began; the
    # failed chain came back from memory, not from reading its seal again.
    tops = [upto for _, upto, _ in reads]
    assert [after for after, _, _ in reads] == [-1, *tops[:-1]]
    assert tops == sorted(tops) and tops[1] > tops[0] and tops[2] > tops[1]
    assert [found for _, _, found in reads] == [[first], [failed], [later], []]
    assert _unexported(await ts.queries.unexported_seals()) == []


async def test_reads_of_the_log_since_a_round_hold_only_that_range(ts: TestSink) -> None:
    """The periodic rounds' reads (`gantral.audit.log_rounds`) by log index: the whole
    log from -1, else only what lies in (after, upto]."""
    old, new, open_ = unique("old"), unique("new"), unique("open")
    await ts.sink.append(_req(old, make_events(old, 3)))
    middle = await ts.queries.log_top()
    await ts.sink.append(_req(open_, make_events(open_, 2, sealed=False)))
    await ts.sink.append(_req(new, make_events(new, 3)))
    top = await ts.queries.log_top()
    assert top == 7 and middle == 2
    q = ts.queries
    assert _unexported(await q.unexported_seals()) == [old, new]
    assert _unexported(await q.unexported_seals(middle, top)) == [new]
    assert _unexported(await q.unexported_seals(-1, middle)) == [old]
    assert await q.unexported_seals(top, top) == []
    # Seals (at indexes 2 and 7) and starts (0, 3, 5), each with its own log index.
    assert await q.unarchived_seals("gantral-history-", middle, top) == [(new, 7)]
    assert await q.unarchived_seals("gantral-history-") == [(old, 2), (new, 7)]
    assert await q.unsealed_chains() == [(open_, 3)]
    assert await q.unsealed_chains(3, top) == []
    assert await q.sealed_among([old, new, open_, unique("never")]) == {old, new}


async def test_two_replicas_sweeping_together_export_each_seal_once(
    stack: Any, ts: TestSink
) -> None:
    ids = [unique("both") for _ in range(6)]
    for iid in ids:
        await ts.sink.append(_req(iid, make_events(iid, 3)))
    pool = await open_pool(stack.postgres_uri, ts.config.writer_role)
    try:
        # Separate checkpointers sign different checkpoints: two exports of one chain
        # would be two different bundles.
        one, two = _restarted(ts), _restarted(ts, pool)
        for _ in range(3):
            await asyncio.gather(one.exports.sweep(), two.exports.sweep())
    finally:
        await pool.close()
    for iid in ids:
        assert len(await ts.queries.bundle_keys(iid)) == 1, iid
    assert _unexported(await ts.queries.unexported_seals()) == []


async def test_a_locked_object_is_written_once_unless_overwritten(ts: TestSink) -> None:
    # One conditional PUT (If-None-Match: *): a second write of the key is left alone and
    # adds no version; `overwrite` writes a new one.
    key = f"once/{unique('key')}"
    await ts.objects.put_locked(key, b"first")
    await ts.objects.put_locked(key, b"second")
    assert await ts.objects.get(key) == b"first"
    raw = ts.objects.raw_client()
    listed = raw.list_object_versions(Bucket=ts.objects.bucket, Prefix=ts.objects.full_key(key))
    assert len(listed.get("Versions", [])) == 1
    await ts.objects.put_locked(key, b"third", overwrite=True)
    assert await ts.objects.get(key) == b"third"


async def test_snapshot_is_redacted_locked_and_referenced(ts: TestSink) -> None:
    iid = unique("inst")
    result = await ts.sink.append(_req(iid, make_events(iid, 3, sealed=False, snapshot_every=3)))
    stored = result.stored[2]
    assert stored.snapshot_key == f"snapshots/sha256/{stored.snapshot_hash}.json"
    data = await ts.objects.get(stored.snapshot_key)
    assert data is not None and hashlib.sha256(data).hexdigest() == stored.snapshot_hash
    assert json.loads(data) == {"amount": 30, "seq": 3}
    body = json.loads((await ts.queries.instance_events(iid))[2].body)
    assert body["snapshot"] == {
        "key": stored.snapshot_key,
        "sha256": stored.snapshot_hash,
        "redacted": ["$.prompt"],
    }
    client = ts.objects.raw_client()
    key = ts.objects.full_key(stored.snapshot_key)
    versions = client.list_object_versions(Bucket=ts.objects.bucket, Prefix=key)
    version = versions["Versions"][0]["VersionId"]
    with pytest.raises(ClientError):
        client.delete_object(Bucket=ts.objects.bucket, Key=key, VersionId=version)


async def test_pools_act_as_the_least_privileged_roles(stack: Any, ts: TestSink) -> None:
    for role in (ts.config.writer_role, ts.config.reader_role):
        pool = await open_pool(stack.postgres_uri, role)
        try:
            async with pool.connection() as conn:
                row = await (await conn.execute("SELECT current_user")).fetchone()
                assert row == (role,)
        finally:
            await pool.close()


@pytest.mark.parametrize("role", ["writer", "reader"])
async def test_audit_roles_cannot_rewrite_history(stack: Any, ts: TestSink, role: str) -> None:
    iid = unique("inst")
    await ts.sink.append(_req(iid, make_events(iid, 3)))
    role_name = ts.config.writer_role if role == "writer" else ts.config.reader_role
    events = sql.SQL("{}.events").format(sql.Identifier(ts.config.schema_name))
    statements = [
        sql.SQL("UPDATE {} SET type = 'X'").format(events),
        sql.SQL("DELETE FROM {}").format(events),
        sql.SQL("TRUNCATE {}").format(events),
    ]
    if role == "reader":
        statements.append(sql.SQL("INSERT INTO {} SELECT * FROM {} LIMIT 1").format(events, events))
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role_name)))
        await conn.commit()
        for statement in statements:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute(statement)
            await conn.rollback()
        cur = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(events))
        assert (await cur.fetchone()) == (3,)


async def test_triggers_refuse_changes_even_to_the_owner(stack: Any, ts: TestSink) -> None:
    iid = unique("inst")
    await ts.sink.append(_req(iid, make_events(iid, 3)))
    await ts.sink.exports.drain()  # a checkpoint and a bundle row: the triggers are per row
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        for table in ("events", "seals", "checkpoints", "bundles"):
            name = sql.SQL("{}.{}").format(
                sql.Identifier(ts.config.schema_name), sql.Identifier(table)
            )
            for statement in ("DELETE FROM {}", "TRUNCATE {}"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    await conn.execute(sql.SQL(statement).format(name))
                await conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            await conn.execute(
                sql.SQL("UPDATE {}.events SET type = 'X'").format(
                    sql.Identifier(ts.config.schema_name)
                )
            )


async def test_a_checkpoint_signed_during_verification_is_no_false_alarm(
    ts: TestSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other instances keep sealing while an auditor verifies one: a checkpoint signed
    between the verifier's reads covers events it has not read, and is not truncation."""
    iid = unique("inst")
    await ts.sink.append(_req(iid, make_events(iid, 4)))
    await ts.checkpointer.publish()
    read_leaves = ts.queries.leaves

    async def leaves_then_another_seal(*args: Any) -> Any:
        rows = await read_leaves(*args)
        # Once, for the verifier's read (the checkpointer reads leaves too, with this off).
        monkeypatch.setattr(ts.queries, "leaves", read_leaves)
        other = unique("other")
        await ts.sink.append(_req(other, make_events(other, 3)))
        assert (await ts.checkpointer.publish()) is not None
        return rows

    monkeypatch.setattr(ts.queries, "leaves", leaves_then_another_seal)
    report = await verify_database(
        ts.queries, objects=ts.objects, public_key=ts.key.public_key(), instance_ids=[iid]
    )
    assert report.ok, report.problems


async def _seal_and_checkpoint(ts: TestSink, iid: str) -> None:
    """One sealed instance and a checkpoint covering it, also stored as a cosigned note
    (by no witness: the reads are what is counted, not the cosignatures)."""
    await ts.sink.append(_req(iid, make_events(iid, 3)))
    cp = await ts.checkpointer.publish()
    assert cp is not None
    note = await ts.queries.checkpoint_note(cp.size)
    assert note is not None
    await ts.objects.put_locked(cosigned_note_key(cp.size), note.encode())
    await ts.writer.record_cosigned_checkpoint(cp.size, note, 0)


def _count_checkpoint_reads(ts: TestSink, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Checkpoints, notes and cosigned notes read, per store (database rows returned and
    objects fetched), and seal rows."""
    reads: Counter[str] = Counter()
    for name in ("checkpoints", "checkpoint_notes", "cosigned_checkpoint_notes", "seals"):
        original = getattr(ts.queries, name)

        async def counted(*args: Any, _read: Any = original, _name: str = name) -> Any:
            rows = await _read(*args)
            reads[f"database {_name}"] += len(rows)
            return rows

        monkeypatch.setattr(ts.queries, name, counted)
    get = ts.objects.get

    async def counted_get(key: str) -> bytes | None:
        reads[f"object {key.split('/', 1)[0]}"] += 1
        return await get(key)

    monkeypatch.setattr(ts.objects, "get", counted_get)
    return reads


async def test_verifying_one_instance_reads_only_the_checkpoints_it_relies_on(
    ts: TestSink, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many unrelated instances were sealed and checkpointed since, one instance's
    verification reads the checkpoint first covering its events and the newest one (JSON,
    note and cosigned note, from the database and the bucket) and its own seal: a constant,
    not the log."""
    target = unique("inst")
    await _seal_and_checkpoint(ts, target)
    reads = _count_checkpoint_reads(ts, monkeypatch)
    counts = []
    for _ in range(2):
        for _ in range(8):
            await _seal_and_checkpoint(ts, unique("other"))
        reads.clear()
        report = await verify_database(
            ts.queries, objects=ts.objects, public_key=ts.key.public_key(), instance_ids=[target]
        )
        assert report.ok, report.problems
        assert (report.checkpoints, report.notes) == (4, 8)
        counts.append(dict(reads))
    assert counts[0] == counts[1], counts
    assert counts[0].pop("database seals") == 1, counts[0]  # its own
    assert set(counts[0].values()) == {2}, counts[0]  # the covering one and the newest
    assert len(counts[0]) == 6  # each kind, from each store
    reads.clear()
    whole = await verify_database(ts.queries, objects=ts.objects, public_key=ts.key.public_key())
    assert whole.ok, whole.problems
    assert set(reads.values()) == {17}, reads  # the whole log still reads every one

    # Fail closed: with the log truncated and the database's checkpoints gone, the
    # object-locked newest note still shows it to one instance's verification.
    schema = sql.Identifier(ts.config.schema_name)
    connect = psycopg.AsyncConnection.connect(stack.postgres_uri)
    async with await connect as conn, conn.transaction(force_rollback=True):
        await conn.execute("SET LOCAL session_replication_role = replica")
        for table in ("events", "checkpoints", "cosigned_checkpoints"):
            column = "log_index" if table == "events" else "size"
            await conn.execute(
                sql.SQL("DELETE FROM {}.{} WHERE {} >= 40").format(
                    schema, sql.Identifier(table), sql.Identifier(column)
                )
            )
        tampered = AuditQueries(Database(ts.config, conn=conn))
        report = await verify_database(
            tampered, objects=ts.objects, public_key=ts.key.public_key(), instance_ids=[target]
        )
    assert "log_truncated" in {p.code for p in report.problems}, report.problems


def _unexported(found: list[tuple[str, int]]) -> list[str]:
    """The chains of a read of sealed chains without a bundle."""
    return [chain for chain, _ in found]


@contextlib.contextmanager
def _bundles_refused(ts: TestSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Object storage refuses every bundle (503) meanwhile; other objects are written."""
    put_locked = ts.objects.put_locked

    async def refusing(key: str, data: bytes) -> None:
        if key.startswith(BUNDLE_PREFIX):
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "PutObject")
        await put_locked(key, data)

    monkeypatch.setattr(ts.objects, "put_locked", refusing)
    try:
        yield
    finally:
        monkeypatch.setattr(ts.objects, "put_locked", put_locked)

"""Tamper suite: randomized attacks on a real PostgreSQL and SeaweedFS, each one detected.

The attacker is a database superuser who disables the append-only triggers
(`session_replication_role = replica`) and may even re-chain the hashes of the instance
they touch. Every attack runs in a transaction that the verifier reads from and that is
then rolled back, so hundreds of trials stay fast. The object-locked checkpoints are
fetched once and pinned, as an auditor would.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import pytest
from psycopg import sql

from gantral.audit.checkpoint import Checkpoint
from gantral.audit.checkpointer import Checkpointer, LogDivergence
from gantral.audit.db import Database
from gantral.audit.encoding import GENESIS, chain_hash
from gantral.audit.queries import AuditQueries
from gantral.audit.rows import EventRow
from gantral.audit.store import AuditWriter
from gantral.audit.testing import TestSink, make_events, open_test_sink, unique
from gantral.audit.verifier import stored_checkpoints, verify_database
from gantral.domain.audit_event import AppendAuditEvents
from gantral.domain.digest import canonical_bytes

pytestmark = pytest.mark.integration

INSTANCES = 16
EVENTS = 9
TRIALS_PER_ATTACK = 60
SEED = 20261125


@dataclass
class World:
    ts: TestSink
    ids: list[str]
    anchors: list[Checkpoint]


@pytest.fixture(scope="module")
async def world(stack: Any) -> AsyncIterator[World]:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as ts:
        ids = [unique("victim") for _ in range(INSTANCES)]
        for i, iid in enumerate(ids):
            events = make_events(iid, EVENTS, snapshot_every=4, sealed=i % 4 != 0)
            for chunk in (events[:3], events[3:6], events[6:]):
                await ts.sink.append(AppendAuditEvents(instance_id=iid, events=chunk))
        await ts.checkpointer.publish()
        await ts.sink.exports.drain()  # the sealed ones' bundles pinpoint rewritten events
        anchors = await stored_checkpoints(ts.objects)
        assert anchors and anchors[-1].size == INSTANCES * EVENTS
        yield World(ts, ids, anchors)


def _rechain(rows: list[EventRow]) -> list[EventRow]:
    """What a careful attacker does after editing: recompute every link and hash."""
    out, prev = [], GENESIS
    for row in rows:
        digest = chain_hash(prev, row.body)
        out.append(replace(row, prev_hash=prev, hash=digest))
        prev = digest
    return out


def _edit_body(row: EventRow, rng: random.Random) -> EventRow:
    body = json.loads(row.body)
    field = rng.choice(["payload", "actor", "at", "type"])
    if field == "payload":
        body["payload"]["n"] = body["payload"]["n"] + rng.randint(1, 9)
    elif field == "actor":
        body["actor"]["id"] = "mallory@example.com"
    elif field == "at":
        body["at"] = "2020-01-01T00:00:00.000000Z"
    else:
        body["type"] = "DECISION_RECORDED" if body["type"] != "DECISION_RECORDED" else "ESCALATED"
    return replace(row, body=canonical_bytes(body))


def _renumber(rows: list[EventRow], iid: str) -> list[EventRow]:
    """Make seqs contiguous again and bodies agree with them (hiding a delete or insert)."""
    out = []
    for seq, row in enumerate(rows, start=1):
        body = json.loads(row.body)
        body["seq"] = seq
        out.append(replace(row, seq=seq, body=canonical_bytes(body), instance_id=iid))
    return out


Attack = Callable[[list[EventRow], random.Random, str], list[EventRow]]


def modify_field(rows: list[EventRow], rng: random.Random, iid: str) -> list[EventRow]:
    k = rng.randrange(len(rows))
    rows = [*rows[:k], _edit_body(rows[k], rng), *rows[k + 1 :]]
    return _rechain(rows) if rng.random() < 0.5 else rows


def delete_event(rows: list[EventRow], rng: random.Random, iid: str) -> list[EventRow]:
    k = rng.randrange(len(rows))
    rows = rows[:k] + rows[k + 1 :]
    return _rechain(_renumber(rows, iid)) if rng.random() < 0.5 else rows


def insert_forged(rows: list[EventRow], rng: random.Random, iid: str) -> list[EventRow]:
    k = rng.randrange(len(rows) + 1)
    template = rows[min(k, len(rows) - 1)]
    forged = _edit_body(template, rng)
    forged = replace(forged, log_index=max(r.log_index for r in rows) + 10_000)
    rows = [*rows[:k], forged, *rows[k:]]
    return _rechain(_renumber(rows, iid)) if rng.random() < 0.7 else _renumber(rows, iid)


def reorder(rows: list[EventRow], rng: random.Random, iid: str) -> list[EventRow]:
    """Two events trade places in the sequence (a table has no order but seq and log index)."""
    k = rng.randrange(len(rows) - 1)
    swapped = [*rows[:k], rows[k + 1], rows[k], *rows[k + 2 :]]
    if rng.random() < 0.5:  # also swap the global log positions
        a, b = swapped[k], swapped[k + 1]
        swapped[k], swapped[k + 1] = (
            replace(a, log_index=b.log_index),
            replace(b, log_index=a.log_index),
        )
    if rng.random() < 0.5:  # only the seq columns move, bodies untouched
        return [replace(r, seq=i + 1) for i, r in enumerate(swapped)]
    renumbered = _renumber(swapped, iid)
    return _rechain(renumbered) if rng.random() < 0.5 else renumbered


def truncate_tail(rows: list[EventRow], rng: random.Random, iid: str) -> list[EventRow]:
    return rows[: rng.randrange(1, len(rows))]


def delete_instance(rows: list[EventRow], rng: random.Random, iid: str) -> list[EventRow]:
    return []


ATTACKS: list[Attack] = [
    modify_field, delete_event, insert_forged, reorder, truncate_tail, delete_instance,
]  # fmt: skip


async def _rewrite(
    conn: psycopg.AsyncConnection[Any],
    schema: str,
    iid: str,
    rows: list[EventRow],
    rng: random.Random,
) -> None:
    def t(name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))

    await conn.execute(sql.SQL("DELETE FROM {} WHERE instance_id = %s").format(t("events")), (iid,))
    if not rows or rng.random() < 0.5:  # a thorough attacker also drops the seal record
        await conn.execute(
            sql.SQL("DELETE FROM {} WHERE instance_id = %s").format(t("seals")), (iid,)
        )
    if rng.random() < 0.5:  # ... and the database copy of every checkpoint
        await conn.execute(sql.SQL("DELETE FROM {}").format(t("checkpoints")))
    async with conn.cursor() as cur:
        await cur.executemany(
            sql.SQL(
                "INSERT INTO {} (log_index, instance_id, seq, type, at, body, prev_hash, hash,"
                " snapshot_key, snapshot_hash) VALUES (%s, %s, %s, %s, now(), %s, %s, %s, %s, %s)"
            ).format(t("events")),
            [
                (
                    r.log_index,
                    iid,
                    r.seq,
                    json.loads(r.body).get("type", r.type),
                    r.body,
                    r.prev_hash,
                    r.hash,
                    r.snapshot_key,
                    r.snapshot_hash,
                )
                for r in rows
            ],
        )


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
async def test_every_database_attack_is_detected(stack: Any, world: World, attack: Attack) -> None:
    rng = random.Random(f"{SEED}-{attack.__name__}")
    schema = world.ts.config.schema_name
    clean = await verify_database(
        world.ts.queries, objects=None, public_key=world.ts.key.public_key(), anchors=world.anchors
    )
    assert clean.ok, clean.problems
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        queries = AuditQueries(Database(world.ts.config, conn=conn))
        for trial in range(TRIALS_PER_ATTACK):
            iid = rng.choice(world.ids)
            async with conn.transaction(force_rollback=True):
                await conn.execute("SET LOCAL session_replication_role = replica")
                rows = await queries.instance_events(iid)
                forged = attack(list(rows), rng, iid)
                await _rewrite(conn, schema, iid, forged, rng)
                report = await verify_database(
                    queries,
                    objects=None,
                    public_key=world.ts.key.public_key(),
                    anchors=world.anchors,
                )
                assert not report.ok, f"{attack.__name__} trial {trial} on {iid} undetected"
                assert any(p.instance_id in (iid, None) for p in report.problems)


async def test_replaced_snapshot_objects_are_detected(world: World) -> None:
    rng = random.Random(f"{SEED}-snapshot")
    ts = world.ts
    client, bucket = ts.objects.raw_client(), ts.objects.bucket
    for trial in range(40):
        iid = rng.choice(world.ids)
        rows = [r for r in await ts.queries.instance_events(iid) if r.snapshot_key]
        row = rng.choice(rows)
        assert row.snapshot_key is not None
        original = await ts.objects.get(row.snapshot_key)
        assert original is not None
        doc = json.loads(original)
        doc[rng.choice(list(doc))] = rng.randint(0, 10**6)
        forged = canonical_bytes(doc)
        key = ts.objects.full_key(row.snapshot_key)
        client.put_object(Bucket=bucket, Key=key, Body=forged)  # a new version over the locked one
        try:
            report = await verify_database(
                ts.queries, objects=ts.objects, public_key=None, instance_ids=[iid], check_log=False
            )
            codes = {(p.code, p.seq) for p in report.problems}
            assert ("snapshot_tampered", row.seq) in codes, f"trial {trial}"
        finally:
            client.put_object(Bucket=bucket, Key=key, Body=original)
        assert hashlib.sha256(original).hexdigest() == row.snapshot_hash
    final = await verify_database(ts.queries, objects=ts.objects, public_key=ts.key.public_key())
    assert final.ok, final.problems


async def test_rechained_sealed_instance_is_pinpointed_by_its_bundle(
    stack: Any, world: World
) -> None:
    """Even a consistent rewrite (new hashes, new seal head) is located to instance and seq."""
    rng = random.Random(f"{SEED}-pinpoint")
    sealed = [iid for i, iid in enumerate(world.ids) if i % 4 != 0]
    schema = world.ts.config.schema_name
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        queries = AuditQueries(Database(world.ts.config, conn=conn))
        for trial in range(10):
            iid = rng.choice(sealed)
            async with conn.transaction(force_rollback=True):
                await conn.execute("SET LOCAL session_replication_role = replica")
                rows = await queries.instance_events(iid)
                k = rng.randrange(len(rows) - 1)
                forged = _rechain([*rows[:k], _edit_body(rows[k], rng), *rows[k + 1 :]])
                await _rewrite(conn, schema, iid, forged, random.Random(0))
                seals = sql.SQL("{}.seals").format(sql.Identifier(schema))
                await conn.execute(
                    sql.SQL("DELETE FROM {} WHERE instance_id = %s").format(seals), (iid,)
                )
                await conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (instance_id, seq, log_index, head_hash)"
                        " VALUES (%s, %s, %s, %s)"
                    ).format(seals),
                    (iid, forged[-1].seq, forged[-1].log_index, forged[-1].hash),
                )
                report = await verify_database(queries, objects=world.ts.objects, public_key=None)
                located = {(p.code, p.instance_id, p.seq) for p in report.problems}
                assert ("bundle_mismatch", iid, k + 1) in located, f"trial {trial}"


def _leaf_rewrite(rows: list[EventRow], rng: random.Random, iid: str) -> list[EventRow]:
    """Attacks that change the global log itself (body-only edits are the chain's job)."""
    k = rng.randrange(len(rows))
    choice = rng.randrange(3)
    if choice == 0:
        return _rechain([*rows[:k], _edit_body(rows[k], rng), *rows[k + 1 :]])
    if choice == 1:
        return rows[:k] + rows[k + 1 :]
    return rows[: max(k, 1)] if k else []


async def test_the_sink_refuses_to_sign_a_rewritten_log(stack: Any, world: World) -> None:
    """A sink restarted on a database whose log was rewritten will not sign it."""
    rng = random.Random(f"{SEED}-refuse")
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        db = Database(world.ts.config, conn=conn)
        for _ in range(20):
            iid = rng.choice(world.ids)
            async with conn.transaction(force_rollback=True):
                await conn.execute("SET LOCAL session_replication_role = replica")
                rows = await AuditQueries(db).instance_events(iid)
                forged = _leaf_rewrite(rows, rng, iid)
                await _rewrite(conn, world.ts.config.schema_name, iid, forged, rng)
                await conn.execute(
                    sql.SQL("DELETE FROM {}.checkpoints").format(
                        sql.Identifier(world.ts.config.schema_name)
                    )
                )
                restarted = Checkpointer(  # a sink restarting on the tampered database
                    AuditQueries(db),
                    AuditWriter(db),
                    world.ts.objects,
                    world.ts.key,
                    "gantral-audit",
                )
                with pytest.raises((LogDivergence, RuntimeError)):
                    await restarted.publish()

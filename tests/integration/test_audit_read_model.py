"""The request read model on a real PostgreSQL: updated in the transaction that stores the
events, the same for every writer, counted once, backfilled by the migration from an
existing log, and caught up past events a sink of the previous release stored (rolling
deploy)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from gantral.audit import migrations
from gantral.audit.db import Database, open_pool
from gantral.audit.encoding import GENESIS, chain_hash, encode_body, format_at
from gantral.audit.read_model import Stored
from gantral.audit.rows import PreparedEvent
from gantral.audit.store import AuditWriter
from gantral.audit.testing import T0, TestSink, open_test_sink, unique
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import AppendAuditEvents, AuditEvent, AuditEventType
from gantral.observability.metrics import GantralMetrics
from gantral.settings.audit import AuditSettings
from tests.helpers.older_payloads import older

pytestmark = pytest.mark.integration

SYSTEM = Actor(id="gantral", kind=ActorKind.SYSTEM)
LEAD = Actor(id="lead@example.com", kind=ActorKind.HUMAN, roles=["TEAM_LEAD"])
E = AuditEventType


@pytest.fixture
async def ts(stack: Any) -> AsyncIterator[TestSink]:
    async with open_test_sink(stack.postgres_uri, stack.s3_endpoint) as sink:
        yield sink


def event(
    iid: str, seq: int, kind: AuditEventType, seconds: float, /, **payload: Any
) -> AuditEvent:
    actor = LEAD if kind is E.DECISION_RECORDED else SYSTEM
    at = T0 + timedelta(seconds=seconds)
    return AuditEvent(instance_id=iid, seq=seq, type=kind, at=at, actor=actor, payload=payload)


def opened(iid: str, rid: str, materiality: str = "HIGH") -> list[AuditEvent]:
    """Start, a policy evaluation, a request for a team lead (seq 1-3)."""
    return [
        event(
            iid, 1, E.INSTANCE_STARTED, 0, workflow_id="deploy", workflow_version=1,
            template_hash="sha256:t", owning_team_id="payments", trigger_context={},
        ),
        event(
            iid, 2, E.POLICY_EVALUATED, 1, step_id="deploy", args_digest="d",
            materiality=materiality, requires_human=True, explanation=[],
        ),
        event(
            iid, 3, E.HUMAN_REQUESTED, 2,
            request_id=rid, step_id="deploy", approvers=["TEAM_LEAD"], args_digest="d",
        ),
    ]  # fmt: skip


def decided(
    iid: str, rid: str, seq: int = 4, seconds: float = 92, still_needed: list[str] | None = None
) -> AuditEvent:
    """An approval: settles the request unless roles are `still_needed`."""
    return event(
        iid, seq, E.DECISION_RECORDED, seconds,
        decision_id=f"dec_{seq}", instance_id=iid, request_id=rid, decision_type="APPROVE",
        human_actor_id=LEAD.id, role="TEAM_LEAD", justification=None, args_digest="d",
        context_delta=None, idempotency_key=f"k{seq}", quorum_satisfied=not still_needed,
        still_needed=still_needed or [], at=(T0 + timedelta(seconds=seconds)).isoformat(),
    )  # fmt: skip


def prepare(e: AuditEvent) -> PreparedEvent:
    """An event as the sink hands it to a writer (no snapshot)."""
    return PreparedEvent(e.seq, str(e.type), format_at(e.at), encode_body(e, None))


def gauge(metrics: GantralMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


def batch(iid: str, events: list[AuditEvent]) -> AppendAuditEvents:
    return AppendAuditEvents(instance_id=iid, events=events)


async def request_row(dsn: str, schema: str, rid: str) -> tuple[Any, ...] | None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(
            sql.SQL(
                "SELECT team_id, materiality, roles_needed, still_needed, approved_by,"
                " closed_at IS NOT NULL, outcome FROM {}.requests WHERE request_id = %s"
            ).format(sql.Identifier(schema)),
            (rid,),
        )
        return await cur.fetchone()


async def test_a_decision_stored_by_another_writer_closes_the_request_for_both(
    ts: TestSink, stack: Any
) -> None:
    """Two writers (two replicas) on one schema: one stores the request, the other the
    decision. Both read 0 open; the decision is timed once, with the request's labels."""
    iid, rid = unique("inst"), unique("req")
    seen_a: list[Stored] = []
    seen_b: list[Stored] = []
    ts.writer.on_commit = seen_a.extend
    pool = await open_pool(stack.postgres_uri, ts.config.writer_role)
    try:
        other = AuditWriter(Database(ts.config, pool=pool))
        other.on_commit = seen_b.extend
        metrics_a, metrics_b = GantralMetrics(), GantralMetrics()

        await ts.sink.append(batch(iid, opened(iid, rid)))
        for projection, metrics in (
            (ts.writer.projection, metrics_a),
            (other.projection, metrics_b),
        ):
            metrics.open_requests(await projection.refresh())
            assert gauge(metrics, "gantral_requests_open") == 1
            assert gauge(metrics, "gantral_oldest_open_request_seconds") > 0

        prepared = prepare(decided(iid, rid))
        await other.append(iid, [prepared])
        await other.append(iid, [prepared])  # a retried batch: stored once, counted once
        for projection, metrics in (
            (ts.writer.projection, metrics_a),
            (other.projection, metrics_b),
        ):
            metrics.open_requests(await projection.refresh())
            assert gauge(metrics, "gantral_requests_open") == 0
            assert gauge(metrics, "gantral_oldest_open_request_seconds") == 0
    finally:
        await pool.close()

    assert [s.type for s in seen_a] == ["INSTANCE_STARTED", "POLICY_EVALUATED", "HUMAN_REQUESTED"]
    assert [s.type for s in seen_b] == ["DECISION_RECORDED"]
    decision = seen_b[0]
    # Labels and the wait come from the read model, not from what writer B saw.
    assert (decision.workflow, decision.team, decision.materiality) == (
        "deploy",
        "payments",
        "HIGH",
    )
    assert decision.waited_seconds == 90
    metrics_b.committed(seen_b)
    count = metrics_b.registry.get_sample_value(
        "gantral_decision_seconds_count", {"materiality": "HIGH"}
    )
    assert count == 1
    row = await request_row(stack.postgres_uri, ts.config.schema_name, rid)
    assert row == ("payments", "HIGH", ["TEAM_LEAD"], [], [LEAD.id], True, "APPROVE")


async def test_quorum_escalation_timeout_and_instance_end(ts: TestSink, stack: Any) -> None:
    """An approval short of the quorum leaves the request open with its progress; an
    escalation changes the roles; a timeout closes it uncounted; an ended instance
    leaves nothing open."""
    iid, rid = unique("inst"), unique("req")
    seen: list[Stored] = []
    ts.writer.on_commit = seen.extend
    await ts.sink.append(batch(iid, opened(iid, rid)))
    partial = decided(iid, rid, seconds=10, still_needed=["SECURITY"])
    await ts.sink.append(batch(iid, [partial]))
    row = await request_row(stack.postgres_uri, ts.config.schema_name, rid)
    assert row == ("payments", "HIGH", ["TEAM_LEAD"], ["SECURITY"], [LEAD.id], False, None)
    escalated = event(iid, 5, E.ESCALATED, 20, request_id=rid, tier=1, approvers=["DIRECTOR"])
    reminded = event(
        iid, 6, E.REMINDER_SENT, 21, request_id=rid, tier=1, deadline="2026-11-25T13:00:00Z"
    )
    await ts.sink.append(batch(iid, [escalated, reminded]))
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
        cur = await conn.execute(
            sql.SQL(
                "SELECT request_id FROM {}.requests WHERE closed_at IS NULL AND team_id = %s"
                " AND roles_needed && %s AND deadline < %s"
            ).format(sql.Identifier(ts.config.schema_name)),
            ("payments", ["DIRECTOR"], T0 + timedelta(hours=2)),
        )
        assert await cur.fetchall() == [(rid,)]  # the inbox's question, by team and role
    timed_out = event(
        iid, 7, E.TIMED_OUT, 30, request_id=rid, on_timeout="REJECT", outcome="EXPIRED"
    )
    await ts.sink.append(batch(iid, [timed_out]))
    assert (await ts.writer.projection.refresh()).count == 0
    assert [s.waited_seconds for s in seen if s.type == "DECISION_RECORDED"] == [None]

    # A second request of another instance, left open until its instance ends.
    other, rid2 = unique("inst"), unique("req")
    await ts.sink.append(batch(other, opened(other, rid2)))
    assert (await ts.writer.projection.refresh()).count == 1
    ended = event(
        other, 4, E.STATE_TRANSITION, 40,
        seq=4, from_state="WAITING_FOR_HUMAN", to_state="TERMINATED", cause="x",
        at=(T0 + timedelta(seconds=40)).isoformat(),
    )  # fmt: skip
    await ts.sink.append(batch(other, [ended]))
    assert (await ts.writer.projection.refresh()).count == 0
    # A third, whose execution was closed around Gantral: the closure's own chain names it.
    closed, rid3 = unique("inst"), unique("req")
    await ts.sink.append(batch(closed, opened(closed, rid3)))
    assert (await ts.writer.projection.refresh()).count == 1
    chain = f"gantral-access-log-closed-{closed}-run"
    record = event(
        chain, 1, E.EXECUTION_CLOSED, 50, instance_id=closed, run_id="run", status="TERMINATED",
        closed_at=None, detected_at=format_at(T0 + timedelta(seconds=50)), reason=None,
        temporal_identity=None, audit_seq=3, audit_head=None,
    )  # fmt: skip
    await ts.sink.append(batch(chain, [record]))
    assert (await ts.writer.projection.refresh()).count == 0
    row = await request_row(stack.postgres_uri, ts.config.schema_name, rid3)
    assert row is not None and row[5:] == (True, "CLOSED_OUTSIDE")
    finished = [s for s in seen if s.type == "STATE_TRANSITION"]
    assert [(s.workflow, s.team) for s in finished] == [("deploy", "payments")]


async def test_events_an_earlier_release_wrote_are_projected(ts: TestSink, stack: Any) -> None:
    """A first-release start (nothing pinned), a request recorded before deadlines and
    excluded approvers, and a decision recorded before channels: the request opens and
    closes as it did when they were written."""
    iid, rid = unique("inst"), unique("req")
    await ts.sink.append(
        batch(
            iid,
            [
                event(iid, 1, E.INSTANCE_STARTED, 0, **older("INSTANCE_STARTED")),
                event(
                    iid, 2, E.HUMAN_REQUESTED, 2, **{**older("HUMAN_REQUESTED"), "request_id": rid}
                ),
            ],
        )
    )
    assert (await ts.writer.projection.refresh()).count == 1
    row = await request_row(stack.postgres_uri, ts.config.schema_name, rid)
    assert row == ("payments", "unknown", ["TECH_LEAD"], ["TECH_LEAD"], [], False, None)
    decision = {**older("DECISION_RECORDED"), "instance_id": iid, "request_id": rid}
    await ts.sink.append(batch(iid, [event(iid, 3, E.DECISION_RECORDED, 60, **decision)]))
    row = await request_row(stack.postgres_uri, ts.config.schema_name, rid)
    assert row == ("payments", "unknown", ["TECH_LEAD"], [], ["alice"], True, "APPROVE")


async def test_an_event_no_model_reads_is_skipped_and_never_holds_the_log(
    ts: TestSink, stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Stored, counted by type, passed over by the projection (logged), which goes on with
    the events after it, in an append and in a catch-up alike."""
    iid, rid = unique("inst"), unique("req")
    seen: list[Stored] = []
    ts.writer.on_commit = seen.extend
    await ts.sink.append(batch(iid, opened(iid, rid)))
    unreadable = [
        event(iid, 4, E.DECISION_RECORDED, 10, request_id=rid, decision_type="APPROVE"),
        event(iid, 5, E.ESCALATED, 11, request_id=rid, tier="two", approvers=["DIRECTOR"]),
    ]
    await ts.sink.append(batch(iid, unreadable))
    assert [r.seq for r in await ts.queries.instance_events(iid)] == [1, 2, 3, 4, 5]
    assert [(s.type, s.team) for s in seen[3:]] == [
        ("DECISION_RECORDED", "unknown"),
        ("ESCALATED", "unknown"),
    ]
    row = await request_row(stack.postgres_uri, ts.config.schema_name, rid)
    assert row == ("payments", "HIGH", ["TEAM_LEAD"], ["TEAM_LEAD"], [], False, None)
    assert caplog.text.count("request read model skips") == 2
    # A sink of an older release stores one more; the catch-up passes over it too.
    other = unique("req")
    broken = event(iid, 6, E.HUMAN_REQUESTED, 12, request_id=other)  # no step, no approvers
    await old_release_append(stack.postgres_uri, ts.config.schema_name, iid, [broken])
    await ts.sink.append(batch(iid, [decided(iid, rid, seq=7)]))
    row = await request_row(stack.postgres_uri, ts.config.schema_name, rid)
    assert row is not None and row[5:] == (True, "APPROVE")
    assert await request_row(stack.postgres_uri, ts.config.schema_name, other) is None
    assert caplog.text.count("request read model skips") == 3
    async with ts.writer.db.connection() as conn:
        assert await ts.writer.projection.watermark(conn) == 7


async def old_release_append(dsn: str, schema: str, iid: str, events: list[AuditEvent]) -> None:
    """What a sink of the previous release does: chain and insert under the log's lock,
    nothing else (it knows no read model)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}.log",))
        t = sql.Identifier(schema)
        cur = await conn.execute(
            sql.SQL("SELECT coalesce(max(log_index) + 1, 0) FROM {}.events").format(t)
        )
        row = await cur.fetchone()
        index = int(row[0]) if row else 0
        cur = await conn.execute(
            sql.SQL("SELECT hash FROM {}.events WHERE instance_id = %s ORDER BY seq DESC LIMIT 1")
            .format(t),
            (iid,),
        )  # fmt: skip
        head = await cur.fetchone()
        prev = bytes(head[0]) if head else GENESIS
        for i, e in enumerate(events):
            body = encode_body(e, None)
            digest = chain_hash(prev, body)
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {}.events (log_index, instance_id, seq, type, at, body,"
                    " prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                ).format(t),
                (index + i, iid, e.seq, str(e.type), format_at(e.at), body, prev, digest),
            )
            prev = digest


async def test_migration_backfills_and_sinks_catch_up_during_a_rolling_deploy(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = stack.postgres_uri
    config = AuditSettings(schema_name=unique("audit_rm"))
    # A database of the previous release: schema version 1, requests already stored.
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: migrations.MIGRATIONS[1]})
    assert await migrations.migrate(dsn, config) == 1
    decided_iid, decided_rid = unique("inst"), unique("req")
    open_iid, open_rid = unique("inst"), unique("req")
    await old_release_append(
        dsn,
        config.schema_name,
        decided_iid,
        [*opened(decided_iid, decided_rid), decided(decided_iid, decided_rid)],
    )
    await old_release_append(dsn, config.schema_name, open_iid, opened(open_iid, open_rid, "LOW"))
    monkeypatch.undo()

    assert await migrations.migrate(dsn, config) == max(migrations.MIGRATIONS)  # backfill
    pool = await open_pool(dsn, config.writer_role)
    try:
        new = AuditWriter(Database(config, pool=pool))
        counted = await new.projection.refresh()
        assert counted.count == 1
        assert counted.oldest_opened_at == T0 + timedelta(seconds=2)
        assert (await request_row(dsn, config.schema_name, decided_rid) or ())[5:] == (
            True,
            "APPROVE",
        )

        # Rolling deploy: an old replica stores the decision; the new one's refresh
        # catches up (as its next append would).
        await old_release_append(dsn, config.schema_name, open_iid, [decided(open_iid, open_rid)])
        assert (await new.projection.refresh()).count == 0

        # And an append by the new release applies what an old replica stored before it.
        third, rid3 = unique("inst"), unique("req")
        await old_release_append(dsn, config.schema_name, third, opened(third, rid3)[:2])
        seen: list[Stored] = []
        new.on_commit = seen.extend
        await new.append(third, [prepare(e) for e in opened(third, rid3)[2:]])
        assert [(s.type, s.team, s.materiality) for s in seen] == [
            ("HUMAN_REQUESTED", "payments", "HIGH")
        ]
        assert (await new.projection.refresh()).count == 1
        # Every event is applied exactly once: the watermark is the log's end.
        async with pool.connection() as conn:
            assert await new.projection.watermark(conn) == 11
    finally:
        await pool.close()
    # A re-run of the migration is a no-op.
    assert await migrations.migrate(dsn, config) == max(migrations.MIGRATIONS)


async def test_a_deputys_delegator_is_counted_and_migration_6_adds_them_to_open_requests(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = stack.postgres_uri
    config = AuditSettings(schema_name=unique("audit_rm"))
    monkeypatch.setattr(
        migrations, "MIGRATIONS", {v: d for v, d in migrations.MIGRATIONS.items() if v < 6}
    )
    assert await migrations.migrate(dsn, config) == 5
    monkeypatch.undo()

    def for_lee(e: AuditEvent) -> AuditEvent:  # the approver stood in for lee
        return e.model_copy(update={"payload": {**e.payload, "on_behalf_of": "lee"}})

    # Open: a deputy's approval short of the quorum; closed: one that settled the request.
    open_iid, open_rid = unique("inst"), unique("req")
    closed_iid, closed_rid = unique("inst"), unique("req")
    pool = await open_pool(dsn, config.writer_role)
    try:
        writer = AuditWriter(Database(config, pool=pool))
        partial = for_lee(decided(open_iid, open_rid, still_needed=["SECURITY"]))
        await writer.append(open_iid, [prepare(e) for e in [*opened(open_iid, open_rid), partial]])
        settled = for_lee(decided(closed_iid, closed_rid))
        events = [*opened(closed_iid, closed_rid), settled]
        await writer.append(closed_iid, [prepare(e) for e in events])
    finally:
        await pool.close()
    for rid in (open_rid, closed_rid):  # both names, as the workflow counts them
        assert (await request_row(dsn, config.schema_name, rid) or ())[4] == [LEAD.id, "lee"]

    # As the previous release projected them: the deputy alone.
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute(
            sql.SQL("UPDATE {}.requests SET approved_by = %s").format(
                sql.Identifier(config.schema_name)
            ),
            ([LEAD.id],),
        )
    assert await migrations.migrate(dsn, config) == 6
    assert (await request_row(dsn, config.schema_name, open_rid) or ())[4] == [LEAD.id, "lee"]
    # Closed requests are read by nobody who asks who counted: left as they were.
    assert (await request_row(dsn, config.schema_name, closed_rid) or ())[4] == [LEAD.id]
    assert await migrations.migrate(dsn, config) == 6  # a no-op once current


async def test_a_failing_projection_never_loses_a_batch(
    ts: TestSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement of the read model failing in the database (sent pipelined, so it fails
    late) rolls back only the read model: the events are stored and counted, and the next
    append applies them."""
    iid, rid = unique("inst"), unique("req")
    seen: list[Stored] = []
    ts.writer.on_commit = seen.extend
    projection = ts.writer.projection
    real_apply = projection._apply

    async def broken(conn: Any, rows: Any, facts: Any = None) -> list[Stored]:
        await conn.execute("SELECT 1 / 0")  # queued: the error comes back at the sync
        return await real_apply(conn, rows, facts)

    monkeypatch.setattr(projection, "_apply", broken)
    await ts.sink.append(batch(iid, opened(iid, rid)))
    assert [r.seq for r in await ts.queries.instance_events(iid)] == [1, 2, 3]
    assert [(s.type, s.team) for s in seen] == [
        ("INSTANCE_STARTED", "unknown"),
        ("POLICY_EVALUATED", "unknown"),
        ("HUMAN_REQUESTED", "unknown"),
    ]
    async with ts.writer.db.connection() as conn:
        assert await projection.watermark(conn) == 0

    monkeypatch.undo()
    seen.clear()
    await ts.sink.append(batch(iid, [decided(iid, rid)]))
    assert [(s.type, s.materiality, s.waited_seconds) for s in seen] == [
        ("DECISION_RECORDED", "HIGH", 90)
    ]
    assert (await projection.refresh()).count == 0
    async with ts.writer.db.connection() as conn:
        assert await projection.watermark(conn) == 4

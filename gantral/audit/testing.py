"""Helpers for tests and benchmarks of the audit sink: event factories and an isolated sink.

Lives in the package (like `temporalio.testing`) so unit tests, integration tests and
`bench/` share one way of building realistic events against real servers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.checkpointer import Checkpointer
from gantral.audit.db import Database, open_pool
from gantral.audit.migrations import migrate
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.audit.sink import AuditSink
from gantral.audit.store import AuditWriter
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.audit_event import AuditEvent, AuditEventType
from gantral.settings import S3Settings
from gantral.settings.audit import AuditSettings

__all__ = ["TestSink", "make_events", "open_test_sink", "s3_settings", "unique"]

TEST_BUCKET = "gantral-audit-tests"
"""One bucket for all tests: SeaweedFS gives each bucket its own volumes, so keys are
namespaced by a unique prefix per test sink instead."""
T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def s3_settings(endpoint: str, *, retention_days: int = 1) -> S3Settings:
    from pydantic import SecretStr

    return S3Settings(
        endpoint_url=endpoint,
        access_key_id=SecretStr("gantral-test"),
        secret_access_key=SecretStr("gantral-test-secret"),
        retention_days=retention_days,
        bucket=TEST_BUCKET,
    )


def make_events(
    instance_id: str,
    count: int,
    *,
    start: int = 1,
    sealed: bool = True,
    snapshot_every: int = 0,
) -> list[AuditEvent]:
    """`count` events of a plausible instance; the last is the seal when `sealed`."""
    human = Actor(id="alice@example.com", kind=ActorKind.HUMAN, roles=["approver"])
    system = Actor(id="gantral", kind=ActorKind.SYSTEM)
    events = []
    for seq in range(start, start + count):
        last = sealed and seq == start + count - 1
        kind = AuditEventType.INSTANCE_SEALED if last else _cycle(seq)
        snapshot: dict[str, Any] | None = None
        if snapshot_every and seq % snapshot_every == 0 and not last:
            snapshot = {"prompt": f"secret prompt {seq}", "amount": seq * 10, "seq": seq}
        events.append(
            AuditEvent(
                instance_id=instance_id,
                seq=seq,
                type=kind,
                at=T0 + timedelta(milliseconds=seq),
                actor=human if kind is AuditEventType.DECISION_RECORDED else system,
                payload={"n": seq, "note": f"event {seq} of {instance_id}"},
                snapshot=snapshot,
            )
        )
    return events


def without_attested_kinds(events: list[AuditEvent]) -> list[AuditEvent]:
    """The events with the kinds the sink admits only when attested by the API (instance
    starts, decisions) replaced by plain agent events: for tests of storage, not trust."""
    from gantral.audit.admission import ATTESTED_EVENTS

    return [
        e.model_copy(update={"type": AuditEventType.AGENT_EVENT})
        if e.type in ATTESTED_EVENTS
        else e
        for e in events
    ]


def _cycle(seq: int) -> AuditEventType:
    kinds = [
        AuditEventType.STATE_TRANSITION,
        AuditEventType.POLICY_EVALUATED,
        AuditEventType.HUMAN_REQUESTED,
        AuditEventType.DECISION_RECORDED,
        AuditEventType.AGENT_EVENT,
    ]
    return AuditEventType.INSTANCE_STARTED if seq == 1 else kinds[seq % len(kinds)]


@dataclass
class TestSink:
    __test__ = False  # not a pytest test class

    sink: AuditSink
    queries: AuditQueries
    writer: AuditWriter
    objects: ObjectStore
    checkpointer: Checkpointer
    key: Ed25519PrivateKey
    config: AuditSettings


@asynccontextmanager
async def open_test_sink(
    dsn: str,
    s3_endpoint: str,
    *,
    redact_paths: list[str] | None = None,
    key: Ed25519PrivateKey | None = None,
) -> AsyncIterator[TestSink]:
    """A sink on a fresh schema and bucket, so tests never see each other's log."""
    config = AuditSettings(schema_name=unique("audit_t"))
    await migrate(dsn, config)
    objects = ObjectStore.from_settings(
        s3_settings(s3_endpoint), bucket=TEST_BUCKET, prefix=f"{config.schema_name}/"
    )
    await objects.ensure_bucket()
    pool = await open_pool(dsn, config.writer_role)
    try:
        db = Database(config, pool=pool)
        queries, writer = AuditQueries(db), AuditWriter(db)
        key = key or Ed25519PrivateKey.generate()
        checkpointer = Checkpointer(queries, writer, objects, key, config.origin)
        sink = AuditSink(writer, queries, objects, checkpointer, redact_paths or ["$.prompt"])
        yield TestSink(sink, queries, writer, objects, checkpointer, key, config)
    finally:
        await pool.close()

"""Fault tests through Temporal: the sink or PostgreSQL goes away mid-stream.

A small driver workflow appends each instance's events in batches through the real
`gantral.audit.append` activity with unlimited retries, as the instance workflow does.
Afterwards every event must be stored exactly once and every chain must verify.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import BaseModel, SecretStr
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from gantral.audit.bundle_verify import verify_bundle
from gantral.audit.checkpoint import generate_key_pem, load_private_key
from gantral.audit.db import Database
from gantral.audit.history_archive import history_chain_id
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.audit.service import open_sink
from gantral.audit.testing import (
    TEST_BUCKET,
    make_events,
    s3_settings,
    unique,
    without_attested_kinds,
)
from gantral.audit.verifier import verify_database
from gantral.devstack.services import Postgres
from gantral.domain.audit_event import (
    AUDIT_APPEND_ACTIVITY,
    AppendAuditEvents,
    AppendResult,
    AuditEvent,
)
from gantral.settings import (
    AttestationSettings,
    AuditSettings,
    DatabaseSettings,
    Settings,
    TemporalSettings,
)
from gantral.workers.sink import run_sink
from tests.helpers.stack import Stack

pytestmark = pytest.mark.integration

# The API key the sink trusts; these tests write no attested kinds, so it signs nothing.
API_PUBLIC_HEX = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()


class DriveInput(BaseModel):
    events: list[AuditEvent]
    batch: int
    audit_queue: str


# Named as the instance workflow, with the instance id as its workflow id: the sink admits
# batches only from the workflow that owns the instance.
@workflow.defn(name="GantralInstance")
class AuditDriver:
    @workflow.run
    async def run(self, inp: DriveInput) -> list[str]:
        hashes: list[str] = []
        for i in range(0, len(inp.events), inp.batch):
            chunk = inp.events[i : i + inp.batch]
            result = await workflow.execute_activity(
                AUDIT_APPEND_ACTIVITY,
                AppendAuditEvents(instance_id=chunk[0].instance_id, events=chunk),
                task_queue=inp.audit_queue,
                start_to_close_timeout=timedelta(seconds=5),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=200),
                    maximum_interval=timedelta(seconds=1),
                    maximum_attempts=0,
                ),
                result_type=AppendResult,
            )
            hashes += [s.hash for s in result.stored]
        return hashes


@pytest.fixture
async def client(stack: Any) -> Client:
    return await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)


@pytest.fixture
async def driver(client: Client) -> AsyncIterator[str]:
    queue = unique("audit-driver")
    async with Worker(
        client, task_queue=queue, workflows=[AuditDriver],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):  # fmt: skip
        yield queue


def _settings(stack: Any, queue: str, pem: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database=DatabaseSettings(url=SecretStr(stack.postgres_uri)),
        s3=s3_settings(stack.s3_endpoint),
        temporal=TemporalSettings(address=stack.temporal_address, audit_task_queue=queue),
        audit=AuditSettings(signing_key=SecretStr(pem), checkpoint_interval_seconds=0.5),
        attestation=AttestationSettings(public_keys=[API_PUBLIC_HEX]),
    )


async def _start(
    client: Client, driver: str, audit_queue: str, instances: int, events: int, batch: int
) -> list[WorkflowHandle[Any, list[str]]]:
    handles = []
    for _ in range(instances):
        iid = unique("fault")
        handles.append(
            await client.start_workflow(
                AuditDriver.run,
                DriveInput(
                    events=without_attested_kinds(make_events(iid, events, snapshot_every=5)),
                    batch=batch,
                    audit_queue=audit_queue,
                ),
                id=iid,
                task_queue=driver,
            )
        )
    return handles


async def _count(dsn: str, schema: str) -> int:
    try:
        async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=2) as conn:
            q = sql.SQL("SELECT count(*) FROM {}.events").format(sql.Identifier(schema))
            row = await (await conn.execute(q)).fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return 0


async def _wait_for(dsn: str, schema: str, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while await _count(dsn, schema) < at_least:
        assert time.monotonic() < deadline, f"fewer than {at_least} events stored in time"
        await asyncio.sleep(0.1)


async def _assert_exactly_once(
    dsn: str, stack: Any, config: AuditSettings, pem: str, expected: dict[str, list[str]]
) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        queries = AuditQueries(Database(config, conn=conn))
        for iid, hashes in expected.items():
            rows = await queries.instance_events(iid)
            assert [r.seq for r in rows] == list(range(1, len(hashes) + 1)), iid
            assert [r.hash.hex() for r in rows] == hashes
        objects = ObjectStore.from_settings(
            s3_settings(stack.s3_endpoint), prefix=config.object_prefix
        )
        report = await verify_database(
            queries, objects=objects, public_key=load_private_key(pem).public_key()
        )
        assert report.ok, report.problems
        # Every seal's bundle is exported, however the sink stopped in between.
        assert [c for c, _ in await queries.unexported_seals()] == []
        # A closed instance's history is archived in a chain of its own (two events, once).
        archived = [len(await queries.instance_events(history_chain_id(iid))) for iid in expected]
        assert set(archived) <= {0, 2}
        assert report.events == sum(len(h) for h in expected.values()) + sum(archived)


@pytest.fixture
def own_postgres(stack: Stack, tmp_path: Path) -> Iterator[Stack]:
    """The session's stack with a PostgreSQL of this test's own: stopping it leaves the
    session's API, sink and their pools alone (their pools back off after an outage and
    would keep the next tests waiting on a connection)."""
    postgres = Postgres(tmp_path / "postgres")
    postgres.start()
    try:
        yield dataclasses.replace(stack, postgres=postgres)
    finally:
        postgres.close()


async def test_postgres_stopped_and_restarted_while_appends_retry(
    own_postgres: Stack, client: Client, driver: str
) -> None:
    stack = own_postgres
    pem, _ = generate_key_pem()
    schema = unique("audit_pg")
    config = AuditSettings(schema_name=schema, object_prefix=f"{schema}/")
    settings = _settings(stack, unique("audit-q"), pem)
    stop = asyncio.Event()
    sink = asyncio.create_task(run_sink(settings, stop, config=config))
    try:
        handles = await _start(client, driver, settings.temporal.audit_task_queue, 5, 24, 2)
        await _wait_for(stack.postgres_uri, schema, 12)
        assert await _count(stack.postgres_uri, schema) < 5 * 24  # really mid-stream
        await asyncio.to_thread(stack.postgres.stop)
        await asyncio.sleep(3)  # appends fail and are retried while the database is down
        await asyncio.to_thread(stack.postgres.restart)
        # Recovery is bounded, not instant: the sink's pool reconnects with its own backoff,
        # and in the whole suite the session's Temporal is busy (120 s was seen too short).
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 300)
        assert all(len(r) == 24 for r in results)
        stop.set()  # before verifying: see the test below
        await asyncio.wait_for(sink, 30)
        await _assert_exactly_once(
            stack.postgres_uri,
            stack,
            config,
            pem,
            {h.id: r for h, r in zip(handles, results, strict=True)},
        )
    finally:
        stop.set()
        if not sink.done():
            await asyncio.wait_for(sink, 30)


async def test_a_seal_left_unexported_by_a_stopped_sink_is_exported_at_start(
    stack: Any,
) -> None:
    pem, _ = generate_key_pem()
    schema = unique("audit_sweep")
    config = AuditSettings(schema_name=schema, object_prefix=f"{schema}/")
    settings = _settings(stack, unique("audit-q"), pem)
    iid = unique("sealed")
    # What a sink killed between a seal's commit and its export leaves behind: the sealed
    # chain, answered to its workflow, with no checkpoint covering it and no bundle.
    async with open_sink(settings, config) as deps:
        await deps.sink.append(AppendAuditEvents(instance_id=iid, events=make_events(iid, 6)))
        assert deps.sink.exports.pending == [iid]  # and lost with the process
        assert await deps.queries.bundle_keys(iid) == []
    stop = asyncio.Event()
    sink = asyncio.create_task(run_sink(settings, stop, config=config))
    try:
        async with await psycopg.AsyncConnection.connect(stack.postgres_uri) as conn:
            queries = AuditQueries(Database(config, conn=conn))
            deadline = time.monotonic() + 60
            while not await queries.bundle_keys(iid):
                assert time.monotonic() < deadline, "the restarted sink did not export the seal"
                assert not sink.done(), sink
                await asyncio.sleep(0.2)
                await conn.rollback()  # a fresh snapshot for the next look
            [key] = await queries.bundle_keys(iid)
        objects = ObjectStore.from_settings(
            s3_settings(stack.s3_endpoint), prefix=config.object_prefix
        )
        bundle = json.loads(await objects.get(key) or b"{}")
        public = load_private_key(pem).public_key()
        assert bundle["seal"]["seq"] == 6 and verify_bundle(bundle, public) == []
    finally:
        stop.set()
        await asyncio.wait_for(sink, 30)


async def _fresh_database(stack: Any) -> str:
    """A database of its own, so the production default schema is this test's alone."""
    name = unique("audit_db")
    async with await psycopg.AsyncConnection.connect(stack.postgres_uri, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(stack.postgres_uri, dbname=name)


def _spawn_sink(stack: Any, dsn: str, queue: str, pem: str) -> subprocess.Popen[bytes]:
    """The real entry point (`python -m gantral.workers.sink`), configured only by environment."""
    env = dict(os.environ)
    env.update(
        {
            "GANTRAL_DATABASE__URL": dsn,
            "GANTRAL_S3__ENDPOINT_URL": stack.s3_endpoint,
            "GANTRAL_S3__BUCKET": TEST_BUCKET,
            "GANTRAL_S3__ACCESS_KEY_ID": "gantral-test",
            "GANTRAL_S3__SECRET_ACCESS_KEY": "gantral-test-secret",
            "GANTRAL_S3__RETENTION_DAYS": "1",
            "GANTRAL_TEMPORAL__ADDRESS": stack.temporal_address,
            "GANTRAL_TEMPORAL__AUDIT_TASK_QUEUE": queue,
            "GANTRAL_AUDIT__SIGNING_KEY": pem,
            "GANTRAL_AUDIT__CHECKPOINT_INTERVAL_SECONDS": "0.5",
            "GANTRAL_ATTESTATION__PUBLIC_KEYS": json.dumps([API_PUBLIC_HEX]),
        }
    )
    return subprocess.Popen([sys.executable, "-m", "gantral.workers.sink"], env=env, cwd=Path.cwd())


async def test_sink_killed_mid_stream_and_restarted(
    stack: Any, client: Client, driver: str
) -> None:
    pem, _ = generate_key_pem()
    queue = unique("audit-q")
    config = AuditSettings()  # the production defaults: schema gantral_audit, no key prefix
    schema, dsn = config.schema_name, await _fresh_database(stack)
    proc = _spawn_sink(stack, dsn, queue, pem)
    try:
        handles = await _start(client, driver, queue, 5, 30, 2)
        await _wait_for(dsn, schema, 20)
        proc.kill()  # SIGKILL: no chance to finish in-flight appends or checkpoints
        proc.wait(10)
        stored_at_kill = await _count(dsn, schema)
        assert stored_at_kill < 150
        proc = _spawn_sink(stack, dsn, queue, pem)
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
        # Stopped first: a running sink keeps archiving closed instances' histories, and a
        # chain recorded between the verifier's reads would look like a stray bundle.
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        await _assert_exactly_once(
            dsn, stack, config, pem, {h.id: r for h, r in zip(handles, results, strict=True)}
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

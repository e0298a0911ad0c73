"""Core fixtures on the real stack: a Temporal client, the instance worker, the real audit
sink, the development issuer and the API, each on task queues unique to this test session.

The API trusts tokens of this session's dev-issuer key: see `tests.helpers.auth`."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import pytest_asyncio
from psycopg.conninfo import make_conninfo
from temporalio.client import Client

from gantral.audit.objects import ObjectStore
from gantral.audit.testing import TEST_BUCKET
from gantral.devstack.process import free_port
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.identity import IdentitySettings
from gantral.temporal_codec import data_converter
from gantral.workers.sink import run_sink
from gantral.workers.worker import build_worker
from tests.helpers.auth import serve_dev_issuer
from tests.helpers.deployment import API_DELAY, Deployment
from tests.helpers.processes import environment
from tests.helpers.serving import api_client
from tests.helpers.session import (
    ATTESTATION_KEY,
    ATTESTATION_PUBLIC,
    AUDIT_KEY,
    AUDIT_PUBLIC,
    CODEC_KEY,
    TEMPLATES,
    TEST_CODEC,
)
from tests.helpers.stack import Stack


@pytest.fixture(scope="session")
def dev_issuer(stack: Stack) -> Iterator[IdentitySettings]:
    """The development issuer with this session's key; its settings are the API's."""
    with serve_dev_issuer(stack.data_dir / "dev-issuer") as identity:
        yield identity


@pytest.fixture(scope="session")
def settings(stack: Stack, dev_issuer: IdentitySettings) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    codec = {"enabled": True, "keys": {"test": CODEC_KEY}} if TEST_CODEC else {}
    return Settings.model_validate(
        {
            "temporal": {
                "address": stack.temporal_address,
                "task_queue": f"instances-{suffix}",
                "audit_task_queue": f"audit-{suffix}",
                "codec": codec,
            },
            "database": {
                "url": stack.postgres_uri,
                "reader_url": stack.postgres_uri,
                "registry_url": stack.postgres_uri,
            },
            "s3": {
                "endpoint_url": stack.s3_endpoint,
                "bucket": TEST_BUCKET,
                "access_key_id": "gantral-test",
                "secret_access_key": "gantral-test-secret",
                "retention_days": 1,
            },
            "audit": {
                "checkpoint_interval_seconds": 2,
                # Executions closed around Gantral are looked for every second.
                "closure_check_interval_seconds": 1,
                "redact_paths": ["$.context.prompt"],
                "signing_key": AUDIT_KEY,
                "public_keys": [AUDIT_PUBLIC],
            },
            "workflows_dir": TEMPLATES,
            "identity": dev_issuer,
            "attestation": {"signing_key": ATTESTATION_KEY},
            # Callback URLs an instance may name (test_callbacks.py serves its own).
            "callbacks": {
                "allowed_url_prefixes": ["https://fn.example/", "http://127.0.0.1:8080/"]
            },
        }
    )


@pytest.fixture(scope="session")
def audit_config() -> AuditSettings:
    """The core suite's own audit schema and key prefix, apart from the audit sink's tests."""
    suffix = uuid.uuid4().hex[:8]
    return AuditSettings(schema_name=f"audit_core_{suffix}", object_prefix=f"core-{suffix}/")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal(settings: Settings) -> Client:
    return await Client.connect(settings.temporal.address, data_converter=data_converter(settings))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def workers(
    temporal: Client, settings: Settings, audit_config: AuditSettings
) -> AsyncIterator[None]:
    """The instance worker and the real audit sink (PostgreSQL + SeaweedFS)."""
    stop, ready = asyncio.Event(), asyncio.Event()
    sink = asyncio.create_task(run_sink(settings, stop, config=audit_config, ready=ready))
    try:
        # Serving before the first test: its first batch must not wait on the migrations.
        serving = asyncio.create_task(ready.wait())
        await asyncio.wait({sink, serving}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            serving.cancel()
            raise RuntimeError("the audit sink did not start serving within 60 s") from (
                sink.exception() if sink.done() else None
            )
        # SeaweedFS takes seconds to place a bucket's first object with content (it grows
        # the bucket's volumes and asks again): here, not in the first test's first batch.
        warm = ObjectStore.from_settings(settings.s3, prefix="tests-warm-up/")
        await warm.put_locked(uuid.uuid4().hex, b"{}" * 1024)
        async with build_worker(temporal, settings):
            yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(sink, timeout=30)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, temporal, audit_config) as client:
        yield client


@pytest.fixture
def deployment(
    stack: Stack, settings: Settings, dev_issuer: IdentitySettings, tmp_path: Path
) -> Iterator[Deployment]:
    """Its own database, bucket and task queues: nothing else in the session serves them."""
    suffix = uuid.uuid4().hex[:8]
    with psycopg.connect(stack.postgres_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE drain_{suffix}")
    dsn = make_conninfo(stack.postgres_uri, dbname=f"drain_{suffix}")
    port = free_port()
    own = settings.model_copy(
        update={
            "temporal": settings.temporal.model_copy(
                update={"task_queue": f"drain-{suffix}", "audit_task_queue": f"drain-a-{suffix}"}
            ),
            "database": settings.database.model_validate(
                {"url": dsn, "reader_url": dsn, "registry_url": dsn}
            ),
            "s3": settings.s3.model_copy(update={"bucket": f"drain-{suffix}"}),
            "identity": dev_issuer,
        }
    )
    timing = {
        "GANTRAL_API__HOST": "127.0.0.1",
        "GANTRAL_API__PORT": str(port),
        "GANTRAL_API__SHUTDOWN_DELAY_SECONDS": str(API_DELAY),
        "GANTRAL_API__GRACEFUL_SHUTDOWN_SECONDS": "15",
        "GANTRAL_WORKER__GRACEFUL_SHUTDOWN_SECONDS": "15",
        "GANTRAL_SINK__GRACEFUL_SHUTDOWN_SECONDS": "15",
    }
    # Each process gets only its half of the attestation key, as in production.
    verifier = own.model_copy(
        update={
            "attestation": own.attestation.model_validate({"public_keys": [ATTESTATION_PUBLIC]})
        }
    )
    env = {
        "api": environment(own, **timing),
        "worker": environment(verifier, **timing),
        "sink": environment(verifier, **timing),
    }
    deploy = Deployment(own, env, tmp_path, f"http://127.0.0.1:{port}", dsn)
    try:
        yield deploy
    finally:
        for proc in deploy.procs:
            proc.kill()

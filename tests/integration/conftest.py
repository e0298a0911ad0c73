"""Core fixtures on the real stack: a Temporal client, the instance worker, the real audit
sink, the development issuer and the API, each on task queues unique to this test session.

The API trusts tokens of this session's dev-issuer key: see `tests.integration.auth`."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from gantral.audit.checkpoint import generate_key_pem
from gantral.audit.config import AuditConfig
from gantral.audit.testing import TEST_BUCKET
from gantral.identity.settings import IdentitySettings
from gantral.settings import Settings
from tests.conftest import Stack
from tests.integration.auth import serve_dev_issuer
from workers.sink import run_sink
from workers.worker import build_worker

TEMPLATES = Path(__file__).parent / "templates"
# The API's attestation key for this session: the worker and the sink trust its public half.
ATTESTATION_KEY, ATTESTATION_PUBLIC = generate_key_pem()
# The sink's checkpoint key; verification (API, CLI) is given only the public half.
AUDIT_KEY, AUDIT_PUBLIC = generate_key_pem()


@pytest.fixture(scope="session")
def dev_issuer(stack: Stack) -> Iterator[IdentitySettings]:
    """The development issuer with this session's key; its settings are the API's."""
    with serve_dev_issuer(stack.data_dir / "dev-issuer") as identity:
        yield identity


@pytest.fixture(scope="session")
def settings(stack: Stack, dev_issuer: IdentitySettings) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return Settings.model_validate(
        {
            "temporal": {
                "address": stack.temporal_address,
                "task_queue": f"instances-{suffix}",
                "audit_task_queue": f"audit-{suffix}",
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
                "redact_paths": ["$.context.prompt"],
                "signing_key": AUDIT_KEY,
                "public_keys": [AUDIT_PUBLIC],
            },
            "workflows_dir": TEMPLATES,
            "identity": dev_issuer,
            "attestation": {"signing_key": ATTESTATION_KEY},
        }
    )


@pytest.fixture(scope="session")
def audit_config() -> AuditConfig:
    """The core suite's own audit schema and key prefix, apart from the audit sink's tests."""
    suffix = uuid.uuid4().hex[:8]
    return AuditConfig(schema=f"audit_core_{suffix}", object_prefix=f"core-{suffix}/")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal(settings: Settings) -> Client:
    return await Client.connect(settings.temporal.address, data_converter=pydantic_data_converter)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def workers(
    temporal: Client, settings: Settings, audit_config: AuditConfig
) -> AsyncIterator[None]:
    """The instance worker and the real audit sink (PostgreSQL + SeaweedFS)."""
    stop = asyncio.Event()
    sink = asyncio.create_task(run_sink(settings, stop, config=audit_config))
    try:
        async with build_worker(temporal, settings):
            yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(sink, timeout=30)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditConfig
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, temporal, audit_config=audit_config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gantral") as client:
            yield client

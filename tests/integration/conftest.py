"""Core fixtures on the real stack: a Temporal client, the instance worker, the real audit
sink, the development issuer and the API, each on task queues unique to this test session.

The API trusts tokens of this session's dev-issuer key: see `tests.integration.auth`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

from gantral.api.app import create_app
from gantral.audit.checkpoint import generate_key_pem
from gantral.audit.testing import TEST_BUCKET
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.identity import IdentitySettings
from gantral.temporal_codec import data_converter
from gantral.workers.sink import run_sink
from gantral.workers.worker import build_worker
from tests.conftest import Stack
from tests.integration.auth import serve_dev_issuer

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


# `GANTRAL_TEST_TEMPORAL_CODEC=1`: the whole suite with the payload codec on (every
# payload in Temporal's history encrypted; docs/deployment.md).
TEST_CODEC = os.environ.get("GANTRAL_TEST_TEMPORAL_CODEC", "") not in ("", "0")
CODEC_KEY = base64.b64encode(os.urandom(32)).decode()


def codec_env(settings: Settings) -> dict[str, str]:
    """The codec's variables for a process or command the test starts (none when off)."""
    codec = settings.temporal.codec
    if not codec.enabled:
        return {}
    keys = {key_id: key.get_secret_value() for key_id, key in codec.keys.items()}
    return {
        "GANTRAL_TEMPORAL__CODEC__ENABLED": "true",
        "GANTRAL_TEMPORAL__CODEC__KEYS": json.dumps(keys),
        "GANTRAL_TEMPORAL__CODEC__CURRENT": codec.current_key_id(),
    }


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
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, temporal, audit_config=audit_config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gantral") as client:
            yield client

"""Core fixtures on the real stack: a Temporal client, the instance worker, the audit sink
activity and the API, each on task queues unique to this test session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from api.app import create_app
from gantral.settings import Settings
from tests.conftest import Stack
from tests.integration.fake_sink import MemorySink
from workers.worker import build_worker

TEMPLATES = Path(__file__).parent / "templates"


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return Settings.model_validate(
        {
            "temporal": {
                "address": stack.temporal_address,
                "task_queue": f"instances-{suffix}",
                "audit_task_queue": f"audit-{suffix}",
            },
            "workflows_dir": TEMPLATES,
        }
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal(settings: Settings) -> Client:
    return await Client.connect(settings.temporal.address, data_converter=pydantic_data_converter)


@pytest.fixture(scope="session")
def sink() -> MemorySink:
    return MemorySink()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def workers(temporal: Client, settings: Settings, sink: MemorySink) -> AsyncIterator[None]:
    audit = Worker(
        temporal, task_queue=settings.temporal.audit_task_queue, activities=[sink.append]
    )
    async with build_worker(temporal, settings), audit:
        yield


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api(
    settings: Settings, temporal: Client, workers: None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, temporal)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gantral") as client:
            yield client

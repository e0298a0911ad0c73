"""The API with break-glass configured, for the break-glass tests and the replay recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from temporalio.client import Client

from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.halts import HaltSettings
from tests.helpers.serving import api_replica, serve


@pytest_asyncio.fixture(loop_scope="session")
async def glass_api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """A replica whose deployment opens break-glass by `2_of(security, platform-admin)`,
    for at most 10 minutes."""
    policy = HaltSettings(break_glass="2_of(security, platform-admin)", break_glass_max_ttl="10m")
    async with (
        api_replica(settings, temporal, audit_config, halts=policy) as app,
        serve(app) as url,  # real HTTP: the CLI too
        httpx.AsyncClient(base_url=url, timeout=60) as client,
    ):
        yield client

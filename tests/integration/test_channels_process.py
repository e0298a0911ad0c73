"""`gantral channels` as a process, as deployed: SIGTERM drains the relay and it exits 0
with nothing fatal in its log, like the instance worker and the audit sink; with no channel
configured it refuses to start."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from temporalio.client import Client, WorkflowExecutionStatus

from gantral.audit.migrations import migrate
from gantral.devstack.process import free_port
from gantral.settings import ChannelRelaySettings, Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.channels import SlackSettings
from gantral.workers.channels import relay_id
from tests.helpers.processes import Process, environment
from tests.helpers.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def relay_settings(stack: Stack, settings: Settings) -> Iterator[Settings]:
    """Slack configured (never called: no request is opened), its own task queue, and its
    own database holding an empty audit log in the default schema the process reads."""
    suffix = uuid.uuid4().hex[:8]
    with psycopg.connect(stack.postgres_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE relay_{suffix}")
    dsn = make_conninfo(stack.postgres_uri, dbname=f"relay_{suffix}")
    asyncio.run(migrate(dsn, AuditSettings()))
    own = settings.model_copy(
        update={
            "temporal": settings.temporal.model_copy(update={"task_queue": f"relay-{suffix}"}),
            "database": settings.database.model_validate(
                {"url": dsn, "reader_url": dsn, "registry_url": dsn}
            ),
            "slack": SlackSettings.model_validate(
                {"signing_secret": "s", "bot_token": "xoxb-t", "api_url": "http://127.0.0.1:9/"}
            ),
        }
    )
    yield own
    asyncio.run(_terminate(own))


async def _terminate(settings: Settings) -> None:
    client = await Client.connect(settings.temporal.address)
    handle = client.get_workflow_handle(relay_id(settings, "slack"))
    if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        await handle.terminate()


def test_sigterm_drains_the_relay_and_exits_0(relay_settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    served = relay_settings.model_copy(update={"channels": ChannelRelaySettings(metrics_port=port)})
    proc = Process("channels", environment(served), tmp_path / "channels.log")
    try:
        proc.wait_for(lambda: proc.logged("channel relay serving slack"))
        # Its metrics port: the channel metrics (issue 21) and the probes.
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "gantral_channel_undeliverable_total" in metrics
        for path in ("/healthz", "/readyz"):
            assert httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == 200
        proc.terminate()
        assert proc.wait(30) == 0, proc.text()
        proc.check_clean_exit()
        proc.check_json_lines()
        assert proc.logged("channel relay stopped cleanly"), proc.text()
    finally:
        proc.kill()


def test_no_channel_configured_refuses_to_start(settings: Settings, tmp_path: Path) -> None:
    proc = Process("channels", environment(settings), tmp_path / "channels.log")
    try:
        assert proc.wait(60) == 1
        assert proc.logged("no channel is configured"), proc.text()
    finally:
        proc.kill()

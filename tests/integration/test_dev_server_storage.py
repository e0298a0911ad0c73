"""The Temporal dev server Gantral starts (`make run`, the tests, the benchmarks) keeps its
SQLite file in write-ahead-log mode (`DEV_SERVER_SQLITE_PRAGMAS`), what it acknowledged
survives the server killed outright and started again on the same file, and a short timer
fires on time (`DEV_SERVER_CONFIG`)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from gantral.devstack.process import free_port
from gantral.devstack.services import start_temporal
from tests.helpers.stack import Stack

pytestmark = pytest.mark.integration


def _journal_mode(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    return str(mode)


def test_the_dev_servers_sqlite_file_keeps_a_write_ahead_log(stack: Stack) -> None:
    path = stack.data_dir / "temporal" / "temporal.db"
    # The mode is recorded in the file itself: any reader of it sees it.
    assert _journal_mode(path) == "wal"
    assert path.with_name("temporal.db-wal").exists()


async def test_what_the_dev_server_acknowledged_survives_it_killed() -> None:
    data = Path(tempfile.mkdtemp(prefix="gantral-temporal-kill-")) / "temporal"
    port = free_port()
    server = start_temporal(data, port, ui_port=None)
    workflow_id = f"kept-{uuid.uuid4().hex}"
    try:
        client = await Client.connect(f"127.0.0.1:{port}")
        # No worker: the start and the Signal are the server's own writes, acknowledged.
        handle = await client.start_workflow(
            "NobodyRunsThis", id=workflow_id, task_queue=f"nobody-{workflow_id}"
        )
        await handle.signal("kept", "the last write before the kill")
        assert server.pid is not None
        os.killpg(server.pid, signal.SIGKILL)  # no shutdown: nothing flushed on the way out
        server.stop()  # reaps it
        server = start_temporal(data, port, ui_port=None)
        client = await Client.connect(f"127.0.0.1:{port}")
        handle = client.get_workflow_handle(workflow_id)
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        history = await handle.fetch_history()
        signals = [
            e.workflow_execution_signaled_event_attributes.signal_name
            for e in history.events
            if e.HasField("workflow_execution_signaled_event_attributes")
        ]
        assert signals == ["kept"]
        assert _journal_mode(data / "temporal.db") == "wal"
    finally:
        server.stop()
        shutil.rmtree(data.parent, ignore_errors=True)


@workflow.defn(name="GantralDevServerTimer", sandboxed=False)
class _Sleeps:
    @workflow.run
    async def run(self, seconds: float) -> None:
        await workflow.sleep(seconds)


async def test_a_short_timer_fires_on_time(stack: Stack) -> None:
    """The dev server fires a 200 ms timer (a deferred audit batch's) in well under the
    second its default floor would make it (`history.timerProcessorMaxTimeShift`)."""
    client = await Client.connect(stack.temporal_address)
    queue = f"timers-{uuid.uuid4().hex}"
    async with Worker(client, task_queue=queue, workflows=[_Sleeps]):
        took = []
        for _ in range(3):
            started = time.monotonic()
            await client.execute_workflow(
                _Sleeps.run, 0.2, id=f"timer-{uuid.uuid4().hex}", task_queue=queue
            )
            took.append(time.monotonic() - started)
    assert min(took) < 0.8, took

"""Replay an instance's recorded history against today's workflow code, in the worker's
sandbox: a replay failure (non-determinism) raises."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from gantral.settings import Settings
from gantral.temporal_codec import data_converter
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.sandbox import SANDBOX_RUNNER

__all__ = ["replay", "replay_instance"]


async def replay(
    history: WorkflowHistory, converter: DataConverter = pydantic_data_converter
) -> None:
    """Replay `history` against `InstanceWorkflow`."""
    replayer = Replayer(
        workflows=[InstanceWorkflow], workflow_runner=SANDBOX_RUNNER, data_converter=converter
    )
    await replayer.replay_workflow(history)


async def replay_instance(temporal: Client, settings: Settings, iid: str) -> None:
    """Fetch instance `iid`'s history from Temporal and replay it, with the deployment's
    data converter (its codec when it is on)."""
    history = await temporal.get_workflow_handle(iid).fetch_history()
    await replay(history, data_converter(settings))

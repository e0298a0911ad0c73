"""The instance worker: runs governed-instance workflows. Holds no database credentials."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from gantral.attestation import install_anchors
from gantral.attestation_keys import anchors_from
from gantral.core import connect_temporal
from gantral.observability.metrics import GantralMetrics, MetricsServer, install_process_runtime
from gantral.observability.tracing import configure_tracing, traced
from gantral.settings import Settings
from gantral.shutdown import run_until_signalled, stop_on_signals
from gantral.startup import configure_logging, load_settings, resolve_secrets
from gantral.workflows.access_log import AccessLogWorkflow
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.sandbox import SANDBOX_RUNNER

log = logging.getLogger("gantral.worker")


def build_worker(client: Client, settings: Settings) -> Worker:
    # The API's public keys: Updates and starts it did not sign are refused.
    install_anchors(anchors_from(settings))
    own = settings.worker
    return Worker(
        # Traces continue from the caller's span through every workflow task and activity.
        traced(client),
        task_queue=settings.temporal.task_queue,
        workflows=[InstanceWorkflow, AccessLogWorkflow],
        workflow_runner=SANDBOX_RUNNER,
        # A stopped worker finishes the tasks it holds, and its shutdown hands its sticky
        # queue back to the server at once; after a crash, the short timeout bounds the stall.
        graceful_shutdown_timeout=timedelta(seconds=own.graceful_shutdown_seconds),
        sticky_queue_schedule_to_start_timeout=timedelta(
            seconds=own.sticky_schedule_to_start_seconds
        ),
    )


async def run_worker(
    settings: Settings, stop: asyncio.Event | None = None, temporal_metrics_url: str | None = None
) -> None:
    """Serve the instance task queue until `stop` is set (or SIGTERM/SIGINT), then stop
    polling, finish in-flight tasks (within the graceful-shutdown timeout) and return."""
    stop = stop or stop_on_signals()
    own = settings.worker
    served = (
        MetricsServer(
            own.metrics_host, own.metrics_port, GantralMetrics().registry, temporal_metrics_url
        )
        if own.metrics_port
        else None
    )
    try:
        client = await connect_temporal(settings)
        worker = build_worker(client, settings)
        log.info(
            "instance worker on %s / %s", settings.temporal.address, settings.temporal.task_queue
        )
        async with worker:
            if served:
                served.ready = True
            await stop.wait()
            log.info("instance worker draining")
            if served:
                served.ready = False
    finally:
        if served:
            served.close()


def main() -> None:
    configure_logging()
    # Inside the run: a failure resolving secrets is logged through the masking filter.
    run_until_signalled("instance worker", _serve)


async def _serve(stop: asyncio.Event) -> None:
    settings = resolve_secrets(load_settings())
    configure_tracing("worker")
    # Before any client connects: core logs through Python logging, SDK metrics if served.
    temporal_metrics = install_process_runtime(bool(settings.worker.metrics_port))
    await run_worker(settings, stop, temporal_metrics)


if __name__ == "__main__":
    main()

"""The audit sink process: serves `gantral.audit.append` on the audit task queue.

Separate from the instance worker so only this process holds the audit database's
writer credentials and the checkpoint signing key. Stops cleanly on SIGTERM/SIGINT: the
Temporal worker stops polling and lets in-flight appends finish (each batch is one
transaction: it commits and its activity completes, or it rolls back and Temporal retries it
whole), then the seals stored meanwhile are exported, a last checkpoint is published and
the pools are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from temporalio.worker import Worker

from gantral.activities.audit_sink import AuditSinkActivities
from gantral.activities.heartbeats import append_with_heartbeats
from gantral.attestation_keys import anchors_from
from gantral.audit.checkpointer import Checkpointer, LogDivergence
from gantral.audit.closure_detector import ClosureDetector
from gantral.audit.history_archiver import HistoryArchiver
from gantral.audit.read_model import RequestProjection
from gantral.audit.service import open_sink
from gantral.core import connect_temporal
from gantral.observability.metrics import GantralMetrics, MetricsServer, install_process_runtime
from gantral.observability.tracing import configure_tracing, traced
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.shutdown import run_until_signalled
from gantral.startup import configure_logging, load_settings, resolve_secrets

__all__ = ["main", "run_sink"]

log = logging.getLogger("gantral.sink")


async def _publish_periodically(
    checkpointer: Checkpointer, every: float, stop: asyncio.Event, metrics: GantralMetrics
) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
        try:
            latest = await checkpointer.publish()
            metrics.checkpoint(
                latest.timestamp if latest else None,
                latest.size if latest else 0,
                checkpointer.tree.size,
            )
        except LogDivergence as error:  # tampering: loud, and nothing more gets signed
            metrics.verification_failures.labels("sink").inc()
            log.error("audit log tampering detected, checkpoints refused: %s", error)
        except Exception as error:  # keep serving appends; the next tick retries
            log.warning("checkpoint publishing failed: %s", type(error).__name__)


async def _count_open_periodically(
    projection: RequestProjection, every: float, stop: asyncio.Event, metrics: GantralMetrics
) -> None:
    """The open-request gauges from the shared read model: every replica the same."""
    while not stop.is_set():
        try:
            metrics.open_requests(await projection.refresh())
        except Exception as error:  # keep serving appends; the next tick retries
            log.warning("counting open requests failed: %s", type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def _archive_periodically(
    archiver: HistoryArchiver, every: float, stop: asyncio.Event
) -> None:
    """Archive the history of every sealed instance whose workflow has closed."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
        try:
            await archiver.archive_pending()
        except Exception as error:  # keep serving appends; the next tick retries
            log.warning("history archiving failed: %s", type(error).__name__)


async def _detect_periodically(
    detector: ClosureDetector, every: float, stop: asyncio.Event
) -> None:
    """Record every instance execution closed around Gantral with its chain unsealed."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
        try:
            await detector.detect()
        except Exception as error:  # keep serving appends; the next tick retries
            log.warning("closure detection failed: %s", type(error).__name__)


async def run_sink(
    settings: Settings,
    stop: asyncio.Event | None = None,
    *,
    config: AuditSettings | None = None,
    temporal_metrics_url: str | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run until `stop` is set (or forever); `ready` is set once appends are served."""
    stop = stop or asyncio.Event()
    metrics = GantralMetrics()
    own = settings.sink
    served = (
        MetricsServer(own.metrics_host, own.metrics_port, metrics.registry, temporal_metrics_url)
        if own.metrics_port
        else None
    )
    async with open_sink(settings, config) as deps:
        client = await connect_temporal(settings)
        # Each event is counted by the replica that commits it, labelled from the read model.
        deps.sink.writer.on_commit = metrics.committed
        # The API's public keys: starts and decisions it did not attest are refused.
        activities = AuditSinkActivities(deps.sink, anchors_from(settings))
        worker = Worker(
            traced(client),  # an append's spans join the instance operation's trace
            task_queue=settings.temporal.audit_task_queue,
            # Heartbeats: an attempt lost while a sink stops is retried within seconds.
            activities=[append_with_heartbeats(activities, metrics)],
            max_concurrent_activities=32,
            graceful_shutdown_timeout=timedelta(seconds=settings.sink.graceful_shutdown_seconds),
        )
        interval = settings.audit.checkpoint_interval_seconds
        # Seals' checkpoints and bundles, off the append path: woken by each seal, and a
        # sweep at start and on the checkpoint cadence for any left by a stopped sink.
        exporting = asyncio.create_task(deps.sink.exports.run(stop, interval))
        publisher = asyncio.create_task(
            _publish_periodically(deps.checkpointer, interval, stop, metrics)
        )
        counting = asyncio.create_task(
            _count_open_periodically(deps.sink.writer.projection, interval, stop, metrics)
        )
        # Same cadence as checkpoints: an archive is recorded in the log they sign.
        archiver = HistoryArchiver(deps.sink, client)
        archiving = asyncio.create_task(_archive_periodically(archiver, interval, stop))
        detector = ClosureDetector(
            deps.sink, client, on_recorded=lambda s: metrics.closed_outside.labels(s).inc()
        )
        detecting = asyncio.create_task(
            _detect_periodically(detector, settings.audit.closure_check_interval_seconds, stop)
        )
        log.info("audit sink serving %s", settings.temporal.audit_task_queue)
        try:
            async with worker:
                if served:
                    served.ready = True
                if ready is not None:
                    ready.set()
                await stop.wait()
                log.info("audit sink draining")
                if served:
                    served.ready = False
            await exporting
            await publisher
            await counting
            await archiving
            await detecting
            # The seals stored while the worker drained (a failure is logged and left to
            # the next start's sweep).
            await deps.sink.exports.drain()
            await deps.checkpointer.publish()
        finally:
            if served:
                served.close()


def main() -> None:
    configure_logging()
    # Inside the run: a failure resolving secrets is logged through the masking filter.
    run_until_signalled("audit sink", _serve)


async def _serve(stop: asyncio.Event) -> None:
    settings = resolve_secrets(load_settings())
    configure_tracing("sink")
    # Before any client connects: core logs through Python logging, SDK metrics if served.
    temporal_metrics = install_process_runtime(bool(settings.sink.metrics_port))
    await run_sink(settings, stop, temporal_metrics_url=temporal_metrics)


if __name__ == "__main__":
    main()

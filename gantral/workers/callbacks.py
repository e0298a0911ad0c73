"""`python -m gantral.workers.callbacks`: the callback worker process, the follower, the
deliveries, and the activities they run (settings from GANTRAL_* and GANTRAL_CALLBACKS__*
variables). SIGTERM or SIGINT stops it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

from gantral.audit.db import Database, open_pool
from gantral.callbacks.activities import CallbackActivities
from gantral.callbacks.resolutions import ResolutionReader
from gantral.callbacks.workflows import (
    DeliverCallback,
    DeliveryPolicy,
    FollowerInput,
    FollowResolutions,
)
from gantral.core import connect_temporal
from gantral.identity.secrets import SecretResolver, masking
from gantral.observability.metrics import CallbackMetrics, MetricsServer, install_process_runtime
from gantral.observability.tracing import configure_tracing, traced
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.callbacks import CallbackSettings, load_callback_settings
from gantral.shutdown import run_until_signalled
from gantral.startup import configure_logging, load_settings, resolve_secrets

__all__ = ["callback_worker", "follower_id", "main", "run"]

log = logging.getLogger("gantral.callbacks")


def follower_id(callbacks: CallbackSettings) -> str:
    return f"gantral-callbacks-follower-{callbacks.task_queue}"


@contextlib.asynccontextmanager
async def callback_worker(
    client: Client,
    settings: Settings,
    callbacks: CallbackSettings,
    audit_config: AuditSettings | None = None,
    *,
    from_log_index: int | None = None,
    metrics: CallbackMetrics | None = None,
) -> AsyncIterator[Worker]:
    """Runs the worker and makes sure the one follower workflow is running. A new
    follower starts after the log's head, or after `from_log_index` if given. `metrics`
    counts deliveries, failed attempts, retries and dead letters."""
    config = audit_config or settings.audit
    pool = await open_pool(settings.database.reader_url.get_secret_value(), config.reader_role)
    secret = callbacks.secret.get_secret_value() if callbacks.secret else None
    if secret is None:
        log.warning("GANTRAL_CALLBACKS__SECRET is not set: callbacks will not be delivered")
    try:
        async with httpx.AsyncClient(
            timeout=callbacks.delivery_timeout_seconds, follow_redirects=False
        ) as http:
            activities = CallbackActivities(
                ResolutionReader(Database(config, pool=pool)),
                http,
                secret,
                callbacks.allowed_url_prefixes,
                metrics,
            )
            worker = Worker(
                # Traces continue from the resolution's trace through each delivery.
                traced(client),
                task_queue=callbacks.task_queue,
                workflows=[FollowResolutions, DeliverCallback],
                activities=[activities.head, activities.fetch, activities.deliver],
                # A stopped worker lets deliveries in flight finish (else they are retried).
                graceful_shutdown_timeout=timedelta(seconds=callbacks.graceful_shutdown_seconds),
            )
            async with worker:
                await _ensure_follower(client, callbacks, from_log_index)
                yield worker
    finally:
        await pool.close()


async def _ensure_follower(client: Client, callbacks: CallbackSettings, cursor: int | None) -> None:
    policy = DeliveryPolicy(
        timeout_seconds=callbacks.delivery_timeout_seconds,
        max_attempts=callbacks.max_attempts,
        max_interval_seconds=callbacks.max_retry_interval_seconds,
    )
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            FollowResolutions.run,
            FollowerInput(
                cursor=cursor, poll_interval_seconds=callbacks.poll_interval_seconds, policy=policy
            ),
            id=follower_id(callbacks),
            task_queue=callbacks.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )


async def run(stop: asyncio.Event) -> None:
    """The worker process until `stop` is set: settings and secret references as every
    Gantral process reads them, Temporal's namespace, TLS and payload codec included;
    metrics and probes on its metrics port, traces over OTLP when configured, like the
    other processes."""
    settings = resolve_secrets(load_settings())
    callbacks = load_callback_settings()
    # The signing secret may be a `file:` or `vault:` reference like every other secret.
    with httpx.Client(timeout=settings.identity.vault.timeout_seconds) as vault_http:
        resolver = SecretResolver(settings.identity.vault, vault_http, masker=masking())
        callbacks = resolver.resolve_model(callbacks)
    configure_tracing("callbacks")
    # Before any client connects: core logs through Python logging, SDK metrics if served.
    temporal_metrics = install_process_runtime(bool(callbacks.metrics_port))
    metrics = CallbackMetrics()
    server = (
        MetricsServer(
            callbacks.metrics_host, callbacks.metrics_port, metrics.registry, temporal_metrics
        )
        if callbacks.metrics_port
        else None
    )
    try:
        client = await connect_temporal(settings)
        async with callback_worker(client, settings, callbacks, metrics=metrics):
            if server is not None:
                server.ready = True
            log.info("callback worker on %s / %s", settings.temporal.address, callbacks.task_queue)
            await stop.wait()
            if server is not None:
                server.ready = False
            log.info("callback worker draining")
    finally:
        if server is not None:
            server.close()


def main() -> None:
    configure_logging()
    run_until_signalled("callback worker", run)


if __name__ == "__main__":
    main()

"""The channel relay worker: follows the audit log and keeps Slack (and other channels)
and Jira current. Runs only the relay workflows of the channels that are configured.

    gantral channels        # needs GANTRAL_DATABASE__READER_URL and a configured channel
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from gantral.audit.db import open_pool
from gantral.channels.jira.rest import JiraRest
from gantral.channels.relay.follow import AuditFollower
from gantral.channels.relay.jira import JiraRelay
from gantral.channels.relay.messages import RelayStart
from gantral.channels.relay.slack import SlackRelay
from gantral.channels.relay.workflow import ChannelRelayWorkflow, relay_workflow_id
from gantral.channels.slack.web import SlackWeb
from gantral.governance.delegation_book import open_delegations
from gantral.observability.metrics import ChannelMetrics, MetricsServer
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.shutdown import run_until_signalled

__all__ = ["main", "relay_id", "run_channels"]

log = logging.getLogger("gantral.channels.relay")


def relay_id(settings: Settings, channel: str) -> str:
    return relay_workflow_id(settings.temporal.task_queue, channel)


def task_queue(settings: Settings) -> str:
    return f"{settings.temporal.task_queue}-channels"


def enabled(settings: Settings) -> list[str]:
    on = {"slack": settings.slack.enabled, "jira": settings.jira.enabled}
    return [channel for channel, yes in on.items() if yes]


@contextlib.asynccontextmanager
async def run_channels(
    temporal: Client,
    settings: Settings,
    config: AuditSettings | None = None,
    metrics: ChannelMetrics | None = None,
) -> AsyncIterator[list[str]]:
    """Run the relay worker and start (or attach to) the relay of every enabled channel:
    one workflow each, so an outage of one channel never holds back another. `metrics`
    counts undeliverable and retried calls (served by `main` on its metrics port)."""
    config = config or settings.audit
    metrics = metrics or ChannelMetrics()
    channels = enabled(settings)
    async with contextlib.AsyncExitStack() as exits:
        pool = await open_pool(settings.database.reader_url.get_secret_value(), config.reader_role)
        exits.push_async_callback(pool.close)
        # Delegations, as the API keeps them (the registry's database, when given): messages
        # name who stands in for whom. Without it, they go without the names. Only read:
        # a login with SELECT on them is enough (docs/deployment.md).
        delegations = None
        if settings.database.registry_url.get_secret_value():
            opened = open_delegations(settings, migrate=False)
            delegations = await exits.enter_async_context(opened)
        activities: list[object] = [AuditFollower(pool).read_events]
        if "slack" in channels:
            relay = SlackRelay(
                settings.slack, temporal, SlackWeb(settings.slack, sdk_retries=False), metrics,
                delegations,
            )  # fmt: skip
            activities += [relay.post_request, relay.refresh]
        if "jira" in channels:
            jira = JiraRelay(settings.jira, temporal, JiraRest(settings.jira), metrics, delegations)
            activities += [jira.post_request, jira.refresh]
        worker = Worker(
            temporal,
            task_queue=task_queue(settings),
            workflows=[ChannelRelayWorkflow],
            activities=activities,  # type: ignore[arg-type]
        )
        async with worker:
            for channel in channels:
                await temporal.start_workflow(
                    ChannelRelayWorkflow.run,
                    RelayStart(channel=channel, schema_name=config.schema_name),
                    id=relay_id(settings, channel),
                    task_queue=task_queue(settings),
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            yield channels


def main() -> None:
    from gantral.startup import configure_logging

    configure_logging()
    # Like the worker and the sink: SIGTERM drains, then the process exits 0.
    run_until_signalled("channel relay", _serve)


async def _serve(stop: asyncio.Event) -> None:
    from gantral.core import connect_temporal
    from gantral.observability.tracing import configure_tracing, traced
    from gantral.startup import load_settings, resolve_secrets

    # Inside the run: a failure resolving secrets is logged through the masking filter.
    settings = resolve_secrets(load_settings())
    if not enabled(settings):
        raise SystemExit("no channel is configured: see docs/channels.md")
    configure_tracing("channels")
    # Spans for its Temporal calls, the relay workflows and their activities, like the worker.
    temporal = traced(await connect_temporal(settings))
    metrics = ChannelMetrics()
    own = settings.channels
    server = (
        MetricsServer(own.metrics_host, own.metrics_port, metrics.registry)
        if own.metrics_port
        else None
    )
    try:
        async with run_channels(temporal, settings, metrics=metrics) as channels:
            if server is not None:
                server.ready = True
            log.info("channel relay serving %s", ", ".join(channels))
            await stop.wait()
            if server is not None:
                server.ready = False
            log.info("channel relay draining")
    finally:
        if server is not None:
            server.close()

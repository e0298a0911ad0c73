"""The app factory. Clients are opened once, in the lifespan, never at import time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from temporalio.client import Client

from gantral import __version__
from gantral.api import contract, drain, errors, metrics, request_context
from gantral.api import docs as api_docs
from gantral.api.edge import EdgeMiddleware
from gantral.api.presence import PresenceWatch
from gantral.api.presence_clock import PresenceClock
from gantral.api.routers import (
    audit,
    break_glass,
    codec,
    decisions,
    delegations,
    halts,
    health,
    instances,
    jira,
    policies,
    readiness,
    replay,
    requests,
    slack,
    standing,
    triggers,
    workflows,
)
from gantral.audit.reader import AuditReader
from gantral.core import GantralCore, connect_temporal
from gantral.governance.delegation_book import open_delegations
from gantral.governance.halt_book import open_halts
from gantral.governance.role_directory import load_role_directory
from gantral.governance.standing_store import open_standing
from gantral.identity import IdentityService
from gantral.observability.tracing import configure_tracing, traced
from gantral.policy.runtime import open_registry
from gantral.readiness.runtime import open_readiness, restore_lost_counters
from gantral.request_wakeups import RequestWakeups
from gantral.settings import Profile, Settings
from gantral.settings.audit import AuditSettings
from gantral.startup import configure_logging, install_masking, load_settings, resolve_secrets


def create_app(
    settings: Settings | None = None,
    temporal: Client | None = None,
    *,
    audit_config: AuditSettings | None = None,
) -> FastAPI:
    """Build the API. Tests pass settings and an already connected Temporal client."""
    own_process = settings is None
    configured = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Run as a server: log with secrets masked; embedded (tests): only mask.
        if own_process:
            configure_logging()
            configure_tracing("api")
        else:
            install_masking()
        settings = await asyncio.to_thread(resolve_secrets, configured)
        async with AsyncExitStack() as stack:
            # Every call to Temporal carries the request's trace into the workflow.
            client = traced(temporal or await connect_temporal(settings))
            app.state.settings = settings
            app.state.temporal = client
            registry = await stack.enter_async_context(open_registry(settings))
            app.state.registry = registry
            # Capacity rules and counters, consulted before authorize calls (never audited).
            observer = readiness.MetricsObserver(app.state.metrics)
            app.state.readiness = await stack.enter_async_context(
                open_readiness(settings, observer)
            )
            # The kill switch, shared through PostgreSQL by every replica.
            app.state.halts = await stack.enter_async_context(open_halts(settings))
            standing = await stack.enter_async_context(open_standing(settings))
            # Deputies: who stands in for whom, shared through PostgreSQL like halts.
            app.state.delegations = await stack.enter_async_context(open_delegations(settings))
            # Who holds which role, per team: requests nobody present can decide escalate.
            directory_path = settings.delegations.role_directory
            directory = None if directory_path is None else load_role_directory(directory_path)
            # Long polls woken by decisions relayed on any replica (LISTEN/NOTIFY).
            wakeups = RequestWakeups(settings.database.registry_url.get_secret_value())
            listening = asyncio.create_task(wakeups.listen())
            stack.push_async_callback(_cancelled, listening)
            app.state.core = GantralCore(
                client,
                settings,
                registry,
                readiness=app.state.readiness,
                halts=app.state.halts,
                standing=standing,
                wakeups=wakeups,
            )
            # Without reader credentials the audit routes answer 503; the rest still serves.
            reader = None
            if settings.database.reader_url.get_secret_value():
                reader = await AuditReader.from_settings(settings, audit_config)
                stack.push_async_callback(reader.close)
            app.state.audit_reader = reader
            app.state.presence = app.state.presence_clock = None
            if directory is not None:
                app.state.presence = PresenceWatch(
                    directory, app.state.delegations, app.state.core, reader
                )
            if app.state.presence is not None and reader is not None:
                # Requests nobody asks about again: swept when windows start, and often.
                clock = PresenceClock(
                    app.state.presence, settings.delegations.presence_sweep_seconds
                )
                app.state.presence_clock = clock
                stack.push_async_callback(_cancelled, asyncio.create_task(clock.run()))
            # Counters lost (a new or restored database): recomputed before serving.
            await restore_lost_counters(app.state.readiness, reader)
            # One HTTP client for the issuer's JWKS; the permission table is loaded now,
            # so an invalid table stops startup instead of failing requests.
            http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=settings.identity.http_timeout_seconds)
            )
            app.state.identity = IdentityService.from_settings(settings.identity, http)
            yield

    # Interactive docs are a development convenience; in production every route but
    # health, readiness and metrics needs a token, so the unauthenticated docs are off.
    # The committed specs/openapi.json is the published contract either way.
    docs = configured.profile is Profile.DEVELOPMENT
    app = FastAPI(
        title="Gantral",
        version=__version__,
        summary="AI execution control plane: governed instances, human authority, audit.",
        lifespan=lifespan,
        # Served by gantral.api.docs with packaged assets (no CDN), only in development.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    # Paths that need no token: health, readiness, metrics, and the development docs.
    public = {"/healthz", "/readyz", "/metrics"}
    # Webhooks from Slack, Jira and GitHub carry their own signatures, not bearer tokens.
    public |= set(slack.PATHS) | set(jira.PATHS) | set(triggers.PATHS)
    if docs:
        public |= api_docs.PATHS
        api_docs.install(app)
    errors.install(app)
    # Added before the metrics middleware, so metrics (outermost) count edge refusals too.
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=configured.api.max_body_bytes,
        max_json_depth=configured.api.max_json_depth,
        public_paths=public,
    )
    # Temporal's codec server protocol (the Web UI, `temporal --codec-endpoint`), with CORS
    # for the Web UI's origin outside the edge: browsers send preflights without a token.
    codec.install(app, configured.temporal.codec.cors_origins)
    metrics.install(app)
    # Outermost: a long-poll cut short by shutdown is answered by a fresh read.
    drain.install(app)
    # Outermost of all: request and instance ids for every log line, the access log included.
    request_context.install(app)
    # Spans for every request but probes and scrapes (exported only if OTEL_* says where).
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )
    contract.install(app, public)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(instances.router)
    app.include_router(audit.router)
    app.include_router(replay.router)
    app.include_router(replay.backtest_router)
    app.include_router(policies.router)
    app.include_router(workflows.router)
    app.include_router(requests.router)
    app.include_router(decisions.router)
    app.include_router(halts.router)
    app.include_router(break_glass.router)
    app.include_router(standing.router)
    app.include_router(delegations.router)
    app.include_router(readiness.router)
    app.include_router(slack.router)
    app.include_router(triggers.router)
    app.include_router(jira.router)
    return app


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

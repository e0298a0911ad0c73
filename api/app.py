"""The app factory. Clients are opened once, in the lifespan, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api import errors
from api.routers import audit, health, instances, policies, workflows
from gantral import __version__
from gantral.audit.config import AuditConfig
from gantral.audit.reader import AuditReader
from gantral.client import GantralClient, connect_temporal
from gantral.policy.runtime import open_registry
from gantral.settings import Settings


def create_app(
    settings: Settings | None = None,
    temporal: Client | None = None,
    *,
    audit_config: AuditConfig | None = None,
) -> FastAPI:
    """Build the API. Tests pass an already connected Temporal client."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            client = temporal or await connect_temporal(settings)
            app.state.settings = settings
            app.state.temporal = client
            registry = await stack.enter_async_context(open_registry(settings))
            app.state.registry = registry
            app.state.core = GantralClient(client, settings, registry)
            # Without reader credentials the audit routes answer 503; the rest still serves.
            reader = None
            if settings.database.reader_url.get_secret_value():
                reader = await AuditReader.from_settings(settings, audit_config)
                stack.push_async_callback(reader.close)
            app.state.audit_reader = reader
            yield

    app = FastAPI(
        title="Gantral",
        version=__version__,
        summary="AI execution control plane: governed instances, human authority, audit.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(instances.router)
    app.include_router(audit.router)
    app.include_router(policies.router)
    app.include_router(workflows.router)
    return app

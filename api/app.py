"""The app factory. Clients are opened once, in the lifespan, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api import errors
from api.routers import audit, health, instances
from gantral import __version__
from gantral.audit.config import AuditConfig
from gantral.audit.reader import AuditReader
from gantral.catalog import TemplateCatalog
from gantral.client import GantralClient, connect_temporal
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
        client = temporal or await connect_temporal(settings)
        app.state.settings = settings
        app.state.temporal = client
        app.state.core = GantralClient(client, settings, TemplateCatalog(settings.workflows_dir))
        # Without reader credentials the audit routes answer 503; the rest still serves.
        reader = None
        if settings.database.reader_url.get_secret_value():
            reader = await AuditReader.from_settings(settings, audit_config)
        app.state.audit_reader = reader
        try:
            yield
        finally:
            if reader is not None:
                await reader.close()

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
    return app

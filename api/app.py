"""The app factory. Clients are opened once, in the lifespan, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api import errors
from api.routers import health, instances
from gantral import __version__
from gantral.catalog import TemplateCatalog
from gantral.client import GantralClient, connect_temporal
from gantral.settings import Settings


def create_app(settings: Settings | None = None, temporal: Client | None = None) -> FastAPI:
    """Build the API. Tests pass an already connected Temporal client."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = temporal or await connect_temporal(settings)
        app.state.settings = settings
        app.state.temporal = client
        app.state.core = GantralClient(client, settings, TemplateCatalog(settings.workflows_dir))
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
    return app

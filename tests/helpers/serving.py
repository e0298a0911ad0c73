"""Serve an ASGI app on a real port from the session's event loop (where the workers run),
for clients that need real HTTP: the CLI, the SDKs, subprocesses, stand-in servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from gantral.api.app import create_app
from gantral.devstack.process import free_port
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings

__all__ = ["api_client", "api_replica", "asgi_client", "request_body", "serve", "served_api"]


@contextlib.asynccontextmanager
async def api_replica(
    settings: Settings, temporal: Client | None, audit_config: AuditSettings, **updates: Any
) -> AsyncIterator[FastAPI]:
    """An API replica of the session (its settings with `updates`, e.g. `halts=...`) in
    the test's event loop, its lifespan running."""
    app = create_app(settings.model_copy(update=updates), temporal, audit_config=audit_config)
    async with app.router.lifespan_context(app):
        yield app


def asgi_client(
    app: FastAPI, base_url: str = "http://gantral", **options: Any
) -> httpx.AsyncClient:
    """A client of `app` over ASGI (no port); `options` as for `httpx.AsyncClient`."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, **options)


@contextlib.asynccontextmanager
async def api_client(
    settings: Settings,
    temporal: Client | None,
    audit_config: AuditSettings,
    *,
    base_url: str = "http://gantral",
    **updates: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """`api_replica`, and a client of it over ASGI."""
    async with (
        api_replica(settings, temporal, audit_config, **updates) as app,
        asgi_client(app, base_url) as client,
    ):
        yield client


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Yield the base URL of `app`, served by uvicorn (on `port`, else a free one) until
    the block ends. The app's lifespan is not run: an app that has one is entered by the
    caller."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
        )
    )
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or serving.done():
            break
        await asyncio.sleep(0.02)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=30)


async def request_body(receive: Callable[[], Awaitable[Mapping[str, Any]]]) -> bytes:
    """The whole body of an ASGI request, for a stand-in server's app."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


@pytest_asyncio.fixture(loop_scope="session")
async def served_api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[str]:
    """The session's API (its settings, workers and audit schema) on a real port."""
    async with api_replica(settings, temporal, audit_config) as app, serve(app) as url:
        yield url

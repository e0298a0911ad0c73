"""The registry a process serves from: PostgreSQL when configured, fed by a watched directory.

Opened once in the API lifespan; closing stops the watcher and the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from psycopg_pool import AsyncConnectionPool

from gantral.policy.registry import InMemoryRegistry, PolicyRegistry
from gantral.policy.registry_postgres import PostgresRegistry
from gantral.policy.watcher import DirectoryWatcher
from gantral.settings import Settings

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def open_registry(settings: Settings) -> AsyncIterator[PolicyRegistry]:
    async with contextlib.AsyncExitStack() as stack:
        registry: PolicyRegistry
        dsn = settings.database.registry_url.get_secret_value()
        if dsn:
            # Checked on checkout: a database restart must not leave the API with dead
            # connections (found by the audit fault tests restarting PostgreSQL).
            pool: AsyncConnectionPool = AsyncConnectionPool(
                dsn,
                open=False,
                min_size=1,
                max_size=8,
                check=AsyncConnectionPool.check_connection,
            )
            await pool.open(wait=True, timeout=30)
            stack.push_async_callback(pool.close)
            postgres = PostgresRegistry(pool)
            await postgres.migrate()
            registry = postgres
        else:
            log.warning("no GANTRAL_DATABASE__REGISTRY_URL: policies are kept in memory only")
            registry = InMemoryRegistry()
        if settings.workflows_dir is not None:
            watcher = DirectoryWatcher(
                registry, settings.workflows_dir, interval=settings.watch_interval_seconds
            )
            # Published before serving, so the first request already sees every file.
            await watcher.scan_once()
            stop = asyncio.Event()
            task = asyncio.create_task(watcher.run(stop))

            async def _stop_watcher() -> None:
                stop.set()
                await task

            stack.push_async_callback(_stop_watcher)
        yield registry

"""The gate a process serves with: opened once in the API lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from psycopg_pool import AsyncConnectionPool

from gantral.errors import InvalidInput, Reason
from gantral.readiness.gate import ReadinessGate, ReadinessObserver
from gantral.readiness.rebuild import rebuild_if_lost
from gantral.readiness.store import CounterStore
from gantral.readiness.watcher import RulesWatcher
from gantral.settings import Settings

if TYPE_CHECKING:
    from gantral.audit.reader import AuditReader

__all__ = ["open_readiness", "restore_lost_counters"]

log = logging.getLogger("gantral.readiness")


@contextlib.asynccontextmanager
async def open_readiness(
    settings: Settings, observer: ReadinessObserver | None = None, *, schema: str | None = None
) -> AsyncIterator[ReadinessGate]:
    """No rules file: a gate that is always ready and touches no database. With one: the
    counters' pool, the rules (invalid at startup: startup fails) and their hot reload."""
    conf = settings.readiness
    if conf.rules_file is None:
        yield ReadinessGate(None, observer=observer)
        return
    dsn = conf.database_url.get_secret_value() or settings.database.registry_url.get_secret_value()
    if not dsn:
        raise InvalidInput(
            "readiness.rules_file needs a database for its counters "
            "(GANTRAL_READINESS__DATABASE_URL or GANTRAL_DATABASE__REGISTRY_URL)",
            reason=Reason.READINESS_NEEDS_DATABASE,
        )
    async with contextlib.AsyncExitStack() as stack:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            dsn, open=False, min_size=1, max_size=conf.pool_size,
            check=AsyncConnectionPool.check_connection,
        )  # fmt: skip
        await pool.open(wait=True, timeout=30)
        stack.push_async_callback(pool.close)
        store = CounterStore(pool, schema=schema or conf.schema_name)
        await store.migrate()
        gate = ReadinessGate(store, observer=observer)
        watcher = RulesWatcher(gate, conf.rules_file, interval=conf.reload_interval_seconds)
        if not await watcher.scan_once():
            raise watcher.error or InvalidInput(
                f"{conf.rules_file}: cannot read the capacity rules", reason=Reason.UNREADABLE_FILE
            )
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.run(stop))

        async def _stop() -> None:
            stop.set()
            await task

        stack.push_async_callback(_stop)
        gate.watcher = watcher
        yield gate


async def restore_lost_counters(gate: ReadinessGate, reader: AuditReader | None) -> None:
    """Before serving: counters found empty are recomputed from the audit log (emptied
    counters read as zero, more permissive than the truth, until then)."""
    if gate.store is None:
        return
    if reader is None:
        log.warning("readiness counters cannot be rebuilt: no audit reader configured")
        return
    rebuilt = await rebuild_if_lost(gate, reader.queries.db, datetime.now(UTC))
    if rebuilt is not None:
        log.info("readiness counters were empty: rebuilt from %d instance(s)", rebuilt)

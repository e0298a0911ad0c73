"""`python -m gantral.workers.exporter` (or `gantral audit stream`): the SIEM exporter
process. Reads the audit log as committed (`database.reader_url`), keeps its cursor and
dead letters in its own schema (`exporter.database_url`), and writes CloudEvents over
HTTP or OCSF JSON lines (settings from GANTRAL_EXPORTER__*). SIGTERM or SIGINT stops it
between events; the cursor never moves past an event not handed over.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from gantral.audit.db import Database, open_pool
from gantral.audit.siem_exporter import SiemExporter
from gantral.audit.siem_feed import ExportLease, ExportState
from gantral.audit.siem_outputs import CloudEventsPoster, JsonLines, RetryPolicy
from gantral.observability.metrics import MetricsServer
from gantral.observability.siem_metrics import ExporterMetrics
from gantral.settings import Settings
from gantral.shutdown import run_until_signalled
from gantral.startup import configure_logging, load_settings, resolve_secrets

__all__ = ["main", "run_exporter"]

log = logging.getLogger("gantral.exporter")


def _dsns(settings: Settings) -> tuple[str, str]:
    audit = settings.database.reader_url.get_secret_value()
    audit = audit or settings.database.url.get_secret_value()
    if not audit:
        raise SystemExit("the exporter needs GANTRAL_DATABASE__READER_URL")
    state = settings.exporter.database_url.get_secret_value() or audit
    return audit, state


async def run_exporter(settings: Settings, stop: asyncio.Event) -> None:
    own = settings.exporter
    config = settings.audit
    audit_dsn, state_dsn = _dsns(settings)
    metrics = ExporterMetrics(own.name, own.to)
    served = (
        MetricsServer(own.metrics_host, own.metrics_port, metrics.registry)
        if own.metrics_port
        else None
    )
    source = own.source or f"urn:gantral:audit:{config.origin}"
    audit_pool = await open_pool(audit_dsn, config.reader_role, max_size=2)
    state_pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        state_dsn, open=False, min_size=1, max_size=2, timeout=10.0
    )
    http: httpx.AsyncClient | None = None
    lines: JsonLines | None = None
    try:
        await state_pool.open(wait=True, timeout=30.0)
        state = ExportState(state_pool, own.schema_name)
        await state.migrate()
        poster = None
        if own.to == "cloudevents":
            http = httpx.AsyncClient(timeout=own.timeout_seconds)
            policy = RetryPolicy(
                own.max_attempts,
                own.backoff_initial_seconds,
                own.backoff_max_seconds,
                own.retry_after_max_seconds,
            )
            headers = {k: v.get_secret_value() for k, v in own.headers.items()}
            poster = CloudEventsPoster(http, own.url, policy, headers)
        else:
            lines = JsonLines(own.output_path())
        exporter = SiemExporter(
            own.name,
            Database(config, pool=audit_pool),
            state,
            source,
            poster=poster,
            lines=lines,
            batch_size=own.batch_size,
            poll_interval=own.poll_interval_seconds,
            counters=metrics.counters(),
            lease=ExportLease(state_dsn, own.schema_name, own.name),
        )
        log.info("exporter %s streaming the audit log to %s", own.name, own.to)
        if served:
            served.ready = True
        await exporter.run(stop)
    finally:
        if served:
            served.close()
        if http is not None:
            await http.aclose()
        if lines is not None:
            lines.close()
        await state_pool.close()
        await audit_pool.close()


def main() -> None:
    configure_logging()
    run_until_signalled("audit exporter", _serve)


async def _serve(stop: asyncio.Event) -> None:
    await run_exporter(resolve_secrets(load_settings()), stop)


if __name__ == "__main__":
    main()

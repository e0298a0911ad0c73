"""The real control plane a benchmark measures, started in this process: PostgreSQL,
Temporal (dev server, SQLite file), SeaweedFS, the audit sink, the instance worker and,
when asked, a development issuer and the API on a real port.

One definition for every benchmark, so their figures come from the same stack:

    async with bench_stack("bench-decisions", TEMPLATE, api=True) as stack:
        ...  # stack.settings, stack.client, stack.api_url, stack.data, stack.identity

and, for benchmarks of the audit sink service alone, its own PostgreSQL and SeaweedFS:

    async with sink_stack() as (ts, dsn):
        ...  # ts: gantral.audit.testing.TestSink; dsn: the database's URL
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter


@dataclass
class BenchStack:
    data: Path
    database_url: str
    settings: Any  # gantral.settings.Settings (imported lazily, like the rest of the stack)
    client: Client
    api_url: str | None
    identity: Any  # the development issuer, when the API runs


@contextlib.asynccontextmanager
async def bench_stack(
    name: str,
    template: str | None = None,
    *,
    api: bool = False,
    limit_concurrency: int | None = None,
    sinks: int = 1,
    processes: bool = False,
) -> AsyncIterator[BenchStack]:
    """The stack, with `template` (YAML) published as workflow `name` when given, and
    `sinks` audit sink replicas (on one task queue and database).

    The API, the worker and the sinks are tasks of this process; with `processes` (and
    `api`) each is a process of its own started from its entry point, configured by
    `GANTRAL_*` variables as `make run` starts them (the API alone holds the attestation
    signing key).

    Stops every process it started, whatever the benchmark raised."""
    import uvicorn

    from gantral.api.app import create_app
    from gantral.audit.checkpoint import generate_key_pem
    from gantral.devstack.process import free_port
    from gantral.devstack.services import Postgres, start_seaweedfs, start_temporal
    from gantral.settings import Settings
    from gantral.settings.audit import AuditSettings
    from gantral.workers.sink import run_sink
    from gantral.workers.worker import build_worker

    data = Path(tempfile.mkdtemp(prefix=f"gantral-{name}-"))
    workflows = None
    if template is not None:
        workflows = data / "workflows"
        workflows.mkdir()
        (workflows / f"{name}.yaml").write_text(template)
    postgres = Postgres(data / "postgres")
    uri = postgres.start()
    port, s3_port = free_port(), free_port()
    temporal = start_temporal(data / "temporal", port, ui_port=None)
    seaweed = start_seaweedfs(data / "s3", s3_port)
    audit_key, audit_public = generate_key_pem()
    attestation_key, attestation_public = generate_key_pem()
    stop = asyncio.Event()
    try:
        with contextlib.ExitStack() as issuer:
            identity = None
            if api:
                from tests.helpers.auth import serve_dev_issuer  # needs the repo root on sys.path

                identity = issuer.enter_context(serve_dev_issuer(data / "issuer"))
            settings = Settings.model_validate(
                {
                    "temporal": {"address": f"127.0.0.1:{port}", "task_queue": name,
                                 "audit_task_queue": f"{name}-audit"},
                    # The registry too, as under `make run`: policies, halts, standing
                    # grants, delegations and the replicas' decision notifications.
                    "database": {"url": uri, "reader_url": uri, "registry_url": uri},
                    "s3": {"endpoint_url": f"http://127.0.0.1:{s3_port}", "bucket": "bench",
                           "access_key_id": "b", "secret_access_key": "b", "retention_days": 1},
                    "workflows_dir": str(workflows) if workflows else None,
                    "audit": {"signing_key": audit_key, "public_keys": [audit_public]},
                    "attestation": {"signing_key": attestation_key},
                    **({"identity": identity} if identity is not None else {}),
                }
            )  # fmt: skip
            client = await Client.connect(
                settings.temporal.address, data_converter=pydantic_data_converter
            )
            if processes:
                assert api, "the processes of a stack are served through its API"
                async with _as_processes(settings, attestation_public, data, sinks) as api_url:
                    if template is not None:
                        await asyncio.sleep(2.5)  # the watcher publishes the template
                    yield BenchStack(data, uri, settings, client, api_url, identity)
                return
            replicas = [
                asyncio.create_task(run_sink(settings, stop, config=AuditSettings()))
                for _ in range(sinks)
            ]
            server, serving, api_url = None, None, None
            if api:
                api_port = free_port()
                api_url = f"http://127.0.0.1:{api_port}"
                server = uvicorn.Server(
                    uvicorn.Config(
                        create_app(settings, client), host="127.0.0.1", port=api_port,
                        log_level="warning", limit_concurrency=limit_concurrency,
                    )
                )  # fmt: skip
                serving = asyncio.create_task(server.serve())
                while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
                    await asyncio.sleep(0.05)
            try:
                async with build_worker(client, settings):
                    if template is not None:
                        await asyncio.sleep(2.5)  # the watcher publishes the template
                    yield BenchStack(data, uri, settings, client, api_url, identity)
            finally:
                if server is not None and serving is not None:
                    server.should_exit = True
                    await serving
                stop.set()
                await asyncio.gather(*replicas)
    finally:
        temporal.stop()
        seaweed.stop()
        postgres.close()


@contextlib.asynccontextmanager
async def _as_processes(
    settings: Any, attestation_public: str, data: Path, sinks: int
) -> AsyncIterator[str]:
    """The sinks, the worker and the API as child processes (`tests.helpers.processes`);
    the API's URL once every one is serving. Each gets its own metrics port."""
    from gantral.devstack.process import free_port
    from tests.helpers.deployment import Deployment
    from tests.helpers.processes import environment

    api_port = free_port()
    verifier = settings.model_copy(
        update={
            "attestation": settings.attestation.model_validate(
                {"public_keys": [attestation_public]}
            )
        }
    )
    quiet = {"GANTRAL_LOG__FORMAT": "json", "GANTRAL_API__PORT": str(api_port)}
    env = {
        "api": environment(settings, **quiet),
        "worker": environment(verifier, **quiet),
        "sink": environment(verifier, **quiet),
    }
    deployment = Deployment(settings, env, data / "logs", f"http://127.0.0.1:{api_port}", "")
    try:
        for _ in range(sinks):
            await asyncio.to_thread(deployment.start, "sink")
        await asyncio.to_thread(deployment.start, "worker")
        await asyncio.to_thread(deployment.start, "api")
        yield deployment.api_url
    finally:
        for proc in reversed(deployment.procs):
            proc.terminate()
        for proc in deployment.procs:
            await asyncio.to_thread(proc.wait, 60)


@contextlib.asynccontextmanager
async def sink_stack() -> AsyncIterator[tuple[Any, str]]:
    """The audit sink service (`gantral.audit.testing.TestSink`) on an embedded PostgreSQL
    and SeaweedFS of its own, and the database's URL. Stops both whatever the benchmark
    raised."""
    from gantral.audit.testing import open_test_sink
    from gantral.devstack.process import free_port
    from gantral.devstack.services import Postgres, start_seaweedfs

    with tempfile.TemporaryDirectory(prefix="gantral-bench-") as tmp:
        pg, s3_port = Postgres(Path(tmp) / "pg"), free_port()
        dsn = pg.start()
        seaweed = start_seaweedfs(Path(tmp) / "s3", s3_port)
        try:
            async with open_test_sink(dsn, f"http://127.0.0.1:{s3_port}") as ts:
                yield ts, dsn
        finally:
            seaweed.stop()
            pg.stop()

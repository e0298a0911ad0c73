"""The instance worker: runs governed-instance workflows. Holds no database credentials."""

from __future__ import annotations

import asyncio
import logging
import signal

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from gantral.attestation import install_anchors
from gantral.attestation_keys import anchors_from
from gantral.client import connect_temporal
from gantral.settings import Settings
from gantral.startup import configure_logging, load_settings, resolve_secrets
from gantral.workflows.access_log import AccessLogWorkflow
from gantral.workflows.instance import InstanceWorkflow

log = logging.getLogger("gantral.worker")


# Gantral's pure modules (and the libraries they use) are deterministic: share them with the
# sandbox instead of re-importing them per workflow, so model classes stay identical.
SANDBOX_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "gantral", "pydantic", "pydantic_core", "rfc8785", "annotated_types", "cryptography"
    )
)


def build_worker(client: Client, settings: Settings) -> Worker:
    # The API's public keys: Updates and starts it did not sign are refused.
    install_anchors(anchors_from(settings))
    return Worker(
        client,
        task_queue=settings.temporal.task_queue,
        workflows=[InstanceWorkflow, AccessLogWorkflow],
        workflow_runner=SANDBOX_RUNNER,
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve the instance task queue until `stop` is set (or SIGTERM/SIGINT)."""
    stop = stop or _stop_on_signals()
    client = await connect_temporal(settings)
    worker = build_worker(client, settings)
    log.info("instance worker on %s / %s", settings.temporal.address, settings.temporal.task_queue)
    async with worker:
        await stop.wait()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def main() -> None:
    configure_logging()
    try:
        asyncio.run(run_worker(resolve_secrets(load_settings())))
    except Exception:
        # Logged, not printed by the interpreter: the secret-masking filter sees it.
        log.exception("instance worker stopped")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

"""A deployment of Gantral's own processes (API, worker, sink) on its own database, bucket
and task queues, started and stopped as an operator would: for the restart and replica
tests. The `deployment` fixture (tests/integration/conftest.py) makes one per test."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gantral.devstack.process import free_port
from gantral.settings import Settings
from tests.helpers.processes import Process

ARGS = {"service": "billing", "version": "2.4.1"}
API_DELAY = 1.5  # seconds /readyz fails before the listener closes


@dataclass
class Deployment:
    settings: Settings
    env: dict[str, dict[str, str]]
    logs: Path
    api_url: str
    dsn: str
    count: int = 0
    procs: list[Process] = field(default_factory=list)

    def start(self, name: str) -> Process:
        self.count += 1
        env = dict(self.env[name])
        if name != "api":  # each its own Prometheus port
            env[f"GANTRAL_{name.upper()}__METRICS_PORT"] = str(free_port())
        proc = Process(name, env, self.logs / f"{name}-{self.count}.log")
        proc.metrics_url = f"http://127.0.0.1:{env.get(f'GANTRAL_{name.upper()}__METRICS_PORT')}"
        self.procs.append(proc)
        if name == "api":
            proc.wait_for(lambda: _ready(self.api_url))
        else:
            marker = "audit sink serving" if name == "sink" else "instance worker on"
            proc.wait_for(lambda: proc.logged(marker))
        return proc


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def stop(proc: Process) -> None:
    proc.terminate()
    await asyncio.to_thread(proc.wait, 60)
    proc.check_clean_exit()

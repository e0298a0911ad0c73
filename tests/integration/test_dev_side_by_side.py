"""Two `gantral dev` stacks on one machine, started at the same time through the command
line with different port options only: every port each listens on (SeaweedFS's internal
ones and the worker's and sink's metrics included) follows those options, so both come up
ready. A third start that would share a port is refused before anything starts, naming
the port and its option, and leaves the running stack alone."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gantral.devstack.run import DevPorts
from tests.helpers.processes import GANTRAL_CLI, ROOT

pytestmark = pytest.mark.integration


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _two_port_sets() -> tuple[DevPorts, DevPorts]:
    """Two sets of port options whose derived ports are all free and all different, below
    Linux's ephemeral range (32768 and up), where an outgoing connection may take any."""
    rng = random.Random()
    for _ in range(500):
        chosen = []
        taken: set[int] = set()
        for _stack in range(2):
            api, temporal, ui, issuer = (rng.randrange(15000, 31000) for _ in range(4))
            s3 = rng.randrange(15000, 21000)  # its SeaweedFS ports reach s3 + 11003
            ports = DevPorts.derived(api, temporal, ui, s3, issuer)
            listening = [port for port, _ in ports.listening()]
            if len(set(listening)) != len(listening) or taken & set(listening):
                break
            taken |= set(listening)
            chosen.append(ports)
        else:
            if all(_bindable(port) for port in taken):
                return chosen[0], chosen[1]
    raise AssertionError("no two free port sets")


def _options(ports: DevPorts) -> list[str]:
    """Only the options a user types: nothing internal is given."""
    return [
        "--api-port", str(ports.api), "--temporal-port", str(ports.temporal),
        "--ui-port", str(ports.temporal_ui), "--s3-port", str(ports.s3),
        "--issuer-port", str(ports.issuer),
    ]  # fmt: skip


def _start(home: Path, ports: DevPorts) -> tuple[subprocess.Popen[bytes], Path]:
    home.mkdir(parents=True, exist_ok=True)
    out = home / "dev.out"
    argv = [sys.executable, "-c", GANTRAL_CLI, "dev", "--data-dir", str(home / ".data"),
            "--workflows-dir", str(ROOT / "examples" / "workflows"), *_options(ports)]  # fmt: skip
    with out.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=home, env=dict(os.environ), stdout=log, stderr=log)
    return proc, out


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def test_two_dev_stacks_run_side_by_side_and_a_clash_is_named(tmp_path: Path) -> None:
    first, second = _two_port_sets()
    stacks = [(_start(tmp_path / name, ports), ports) for name, ports in
              (("a", first), ("b", second))]  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        for (proc, out), _ in stacks:
            while b"Gantral is up" not in out.read_bytes():
                assert proc.poll() is None, out.read_text()
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.5)
        for (proc, out), ports in stacks:
            api = f"http://127.0.0.1:{ports.api}"
            for _ in range(60):  # the API's readiness follows its dependencies
                if _get(f"{api}/readyz") == 200:
                    break
                time.sleep(0.5)
            assert _get(f"{api}/readyz") == 200, out.read_text()
            # The derived ports are really this stack's: its metrics and SeaweedFS master.
            assert _get(f"http://127.0.0.1:{ports.worker_metrics}/metrics") == 200
            assert _get(f"http://127.0.0.1:{ports.sink_metrics}/metrics") == 200
            assert _get(f"http://127.0.0.1:{ports.seaweedfs_base}/cluster/status") == 200
            assert proc.poll() is None, out.read_text()

        # A third stack sharing the first's API port (and so its metrics ports): refused at
        # once, before any server starts, each clash named with its option.
        clash = DevPorts.derived(
            first.api, second.temporal + 1, second.temporal_ui + 1, second.s3 + 5, second.issuer + 1
        )
        third, third_out = _start(tmp_path / "c", clash)
        assert third.wait(60) == 1, third_out.read_text()
        said = third_out.read_text()
        assert f"{first.api} (API (--api-port)) is in use" in said, said
        assert f"{first.worker_metrics} (worker metrics (--worker-metrics-port" in said, said
        assert "Traceback" not in said and "temporal    ready" not in said, said
        assert _get(f"http://127.0.0.1:{first.api}/readyz") == 200
    finally:
        for (proc, _), _ in stacks:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for (proc, _), _ in stacks:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    for (proc, out), _ in stacks:
        assert proc.returncode == 0, out.read_text()[-3000:]

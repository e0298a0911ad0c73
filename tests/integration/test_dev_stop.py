"""`gantral dev` stops within 10 s of SIGTERM, with every child process gone (SeaweedFS and
PostgreSQL included) and every Gantral process stopped cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gantral.devstack.process import free_port
from tests.integration.processes import FATAL_MARKERS, ROOT

pytestmark = pytest.mark.integration

RUN = """
import sys
from pathlib import Path
from gantral.devstack.run import DevPorts, run_dev_stack
api, temporal, ui, s3, base, issuer, worker, sink = (int(p) for p in sys.argv[2:10])
ports = DevPorts(api, temporal, ui, s3, base, issuer, worker, sink)
run_dev_stack(Path(sys.argv[1]), ports, Path(sys.argv[10]))
"""


def _free_base() -> int:
    """A base port whose SeaweedFS neighbours (+1, +2, +10000..+10002) are free too."""
    for _ in range(50):
        base = free_port() % 20000 + 20000
        if all(_free(base + offset) for offset in (0, 1, 2, 10000, 10001, 10002)):
            return base
    raise AssertionError("no free port range")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_gantral_dev_stops_within_10s_of_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ports = [free_port(), free_port(), free_port(), free_port(), _free_base()]
    ports += [free_port(), free_port(), free_port()]
    workflows = ROOT / "tests" / "integration" / "templates"
    out = (tmp_path / "dev.out").open("wb")
    dev = subprocess.Popen(
        [sys.executable, "-c", RUN, str(data), *map(str, ports), str(workflows)],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while b"Gantral is up" not in (tmp_path / "dev.out").read_bytes():
            assert dev.poll() is None, (tmp_path / "dev.out").read_text()
            assert time.monotonic() < deadline, (tmp_path / "dev.out").read_text()
            time.sleep(0.3)
        children = _children(dev.pid)
        postmaster = int(next(data.rglob("postmaster.pid")).read_text().split()[0])
        assert len(children) >= 6  # temporal, seaweedfs, issuer, sink, worker, api
        started = time.monotonic()
        dev.send_signal(signal.SIGTERM)
        dev.wait(15)
        took = time.monotonic() - started
    finally:
        if dev.poll() is None:
            dev.kill()
        out.close()
    text = (tmp_path / "dev.out").read_text()
    assert took < 10, f"stopping took {took:.1f}s:\n{text}"
    assert dev.returncode == 0, text
    assert "gantral dev: stopped" in text
    left = [pid for pid in [*children, postmaster] if _alive(pid)]
    assert left == [], f"still running after the stop: {left}"
    for name in ("sink", "worker", "api"):
        log = (data / "logs" / f"{name}.log").read_text()
        assert not [m for m in FATAL_MARKERS if m in log], f"{name}:\n{log[-3000:]}"
    assert "stopped cleanly" in (data / "logs" / "worker.log").read_text()

"""`gantral dev` as a new user runs it: `gantral audit verify ID` works beside it with no
flag, and it stops within 10 s of SIGTERM, with every child process gone (SeaweedFS and
PostgreSQL included) and every Gantral process stopped cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
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
    """A base port whose SeaweedFS neighbours (+1, +2, +10000..+10003) are free too."""
    for _ in range(50):
        base = free_port() % 20000 + 20000
        if all(_free(base + offset) for offset in (0, 1, 2, 10000, 10001, 10002, 10003)):
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


GANTRAL = [sys.executable, "-c", "from gantral.cli import main; main()"]


@dataclass
class DevStack:
    home: Path  # the directory `make run` is run from: .data is here
    proc: subprocess.Popen[bytes]
    out: Path
    api: str
    issuer: str

    def gantral(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GANTRAL, *args],
            cwd=self.home,
            env={"PATH": os.environ["PATH"], "HOME": str(self.home), **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    home = tmp_path_factory.mktemp("dev")
    ports = [free_port(), free_port(), free_port(), free_port(), _free_base()]
    ports += [free_port(), free_port(), free_port()]
    workflows = ROOT / "examples" / "workflows"  # what `make run` publishes
    out = home / "dev.out"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, str(home / ".data"), *map(str, ports), str(workflows)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stack = DevStack(
        home, proc, out, f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[5]}"
    )
    try:
        deadline = time.monotonic() + 120
        while b"Gantral is up" not in out.read_bytes():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.3)
        yield stack
    finally:
        if proc.poll() is None:
            proc.kill()


def test_audit_verify_needs_no_flag_beside_the_local_stack(dev: DevStack) -> None:
    minted = dev.gantral(
        "identity", "mint", "--data-dir", ".data/dev-issuer",
        "--user", "bot", "--agent", "--team", "payments",
        GANTRAL_IDENTITY__DEV_ISSUER__URL=dev.issuer,
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    headers = {"Authorization": f"Bearer {minted.stdout.strip()}"}
    body = {"workflow_id": "deploy-service", "owning_team_id": "payments"}
    started = httpx.post(f"{dev.api}/v1/instances", json=body, headers=headers, timeout=30)
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    done = None
    for _ in range(50):  # the start's events reach the sink
        done = dev.gantral("audit", "verify", iid)
        if done.returncode == 0:
            break
        time.sleep(0.3)
    assert done is not None and done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK 1 instance(s)") and "signatures checked" in done.stdout
    # A database it cannot reach: one clear line, no traceback.
    broken = dev.gantral("audit", "verify", iid, "--dsn", "postgresql://x@127.0.0.1:9/x")
    assert broken.returncode == 2
    assert broken.stderr.startswith("error: audit database:"), broken.stderr
    assert "Traceback" not in broken.stderr and len(broken.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("jq") is None, reason="the README's flow uses jq")
def test_the_readme_flow_runs_to_completion_twice(dev: DevStack) -> None:
    """The README's by-hand flow, as printed, against this stack (its port): each run starts
    its own instance and ends COMPLETED with a verified audit trail."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```sh\nmint()")
    block = readme[start + len("```sh\n") : readme.index("```", start + 6)]
    script = block.replace("http://127.0.0.1:8000", dev.api)
    shim = dev.home / ".venv" / "bin" / "gantral"  # the README calls .venv/bin/gantral
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -c "{GANTRAL[2]}" "$@"\n')
    shim.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(dev.home)}
    env["GANTRAL_IDENTITY__DEV_ISSUER__URL"] = dev.issuer
    ids = []
    for _ in range(2):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script + '\necho "ID=$ID"'],
            cwd=dev.home, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[:4] == ["RUNNING", "RUNNING", "RUNNING", "COMPLETED"], done.stdout
        assert lines[4].startswith("OK 1 instance(s)"), done.stdout
        ids.append(done.stdout.rsplit("ID=", 1)[1].strip())
        time.sleep(1.1)  # the next run's key (its start time) differs
    assert ids[0] != ids[1]


def test_gantral_dev_stops_within_10s_of_sigterm(dev: DevStack) -> None:
    data = dev.home / ".data"
    children = _children(dev.proc.pid)
    postmaster = int(next(data.rglob("postmaster.pid")).read_text().split()[0])
    assert len(children) >= 6  # temporal, seaweedfs, issuer, sink, worker, api
    started = time.monotonic()
    dev.proc.send_signal(signal.SIGTERM)
    dev.proc.wait(15)
    took = time.monotonic() - started
    text = dev.out.read_text()
    assert took < 10, f"stopping took {took:.1f}s:\n{text}"
    assert dev.proc.returncode == 0, text
    assert "gantral dev: stopped" in text
    left = [pid for pid in [*children, postmaster] if _alive(pid)]
    assert left == [], f"still running after the stop: {left}"
    for name in ("sink", "worker", "api"):
        log = (data / "logs" / f"{name}.log").read_text()
        assert not [m for m in FATAL_MARKERS if m in log], f"{name}:\n{log[-3000:]}"
    assert "stopped cleanly" in (data / "logs" / "worker.log").read_text()

"""Running `gantral dev` as a developer does: the command, the stack's runner script, a
base port with room for SeaweedFS's neighbours, and a whole stack in a child process. For
the dev-stack tests and the docs' screenshot script."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gantral.devstack.process import free_port
from tests.helpers.processes import ROOT

RUN = """
import sys
from pathlib import Path
from gantral.devstack.run import DevPorts, run_dev_stack
api, temporal, ui, s3, base, issuer, worker, sink = (int(p) for p in sys.argv[2:10])
witness = int(sys.argv[11]) if len(sys.argv) > 11 else None  # `--witness`'s port
ports = DevPorts(api, temporal, ui, s3, base, issuer, worker, sink, witness)
run_dev_stack(Path(sys.argv[1]), ports, Path(sys.argv[10]))
"""


# The ports SeaweedFS takes above its base port (gantral/devstack/services.py).
SEAWEED_OFFSETS = (0, 1, 2, 10000, 10001, 10002, 10003)


def free_base() -> int:
    """A base port whose SeaweedFS neighbours are free too, all below Linux's ephemeral
    range (32768 and up), where an outgoing connection may hold any port at any time."""
    for _ in range(200):
        base = 20000 + free_port() % 2700  # base + 10003 stays below 32768
        if all(_free(base + offset) for offset in SEAWEED_OFFSETS):
            return base
    raise AssertionError("no free port range")


def _free(port: int) -> bool:
    """Whether this port can be bound now (nothing listens on it and nothing holds it)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


GANTRAL = [sys.executable, "-c", "from gantral.cli import main; main()"]


def distinct_ports(n: int, base: int) -> list[int]:
    """`n` free ports, all different and none in SeaweedFS's range above `base`: a port the
    OS hands out twice, or one SeaweedFS takes later, would give two servers one port."""
    taken = {base + offset for offset in SEAWEED_OFFSETS}
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in taken:
            taken.add(port)
            ports.append(port)
    return ports


@dataclass
class DevStack:
    home: Path  # the directory `make run` is run from: .data is here
    proc: subprocess.Popen[bytes]
    out: Path
    api: str
    issuer: str
    temporal: str
    witness: int | None  # the witness's port, with `--witness`

    def gantral(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """The CLI run beside the stack, as a user runs it there."""
        return subprocess.run(
            [*GANTRAL, *args],
            cwd=self.home,
            env={"PATH": os.environ["PATH"], "HOME": str(self.home), **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@contextlib.contextmanager
def dev_stack(
    home: Path, env: dict[str, str] | None = None, *, witness: bool = False
) -> Iterator[DevStack]:
    """`gantral dev` in a child process, with `env` added to this environment (and a
    witness of its own with `witness`), up once it says so; stopped by SIGTERM."""
    base = free_base()
    api, temporal, ui, s3, issuer, worker, sink, witness_port = distinct_ports(8, base)
    ports = [api, temporal, ui, s3, base, issuer, worker, sink]
    workflows = ROOT / "examples" / "workflows"  # what `make run` publishes
    extra = [str(witness_port)] if witness else []
    out = home / "dev.out"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, str(home / ".data"), *map(str, ports), str(workflows),
             *extra],
            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    stack = DevStack(
        home, proc, out, f"http://127.0.0.1:{api}", f"http://127.0.0.1:{issuer}",
        f"127.0.0.1:{temporal}", witness_port if witness else None,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while b"Gantral is up" not in out.read_bytes():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.3)
        yield stack
    finally:
        # Stopped as a user stops it (SIGTERM stops every service it started): a SIGKILL
        # would leave Temporal, SeaweedFS and the Gantral processes running for the rest
        # of the suite.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

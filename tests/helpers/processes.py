"""Gantral's real entry points as child processes, configured only by `GANTRAL_*` variables
(as in a deployment), for tests that stop and restart them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from gantral.settings import Settings

ROOT = Path(__file__).parents[2]
GANTRAL_CLI = "from gantral.cli import main; main()"
ARGV = {
    "worker": [sys.executable, "-m", "gantral.workers.worker"],
    "sink": [sys.executable, "-m", "gantral.workers.sink"],
    "api": [sys.executable, "-c", GANTRAL_CLI, "api"],
    "channels": [sys.executable, "-c", GANTRAL_CLI, "channels"],
    "callbacks": [sys.executable, "-m", "gantral.workers.callbacks"],
    "exporter": [sys.executable, "-m", "gantral.workers.exporter"],
}
# What an ordinary stop must never leave in a log.
FATAL_MARKERS = ("Fatal Python error", "Traceback", "Segmentation fault", "CRITICAL")


def _plain(value: Any) -> Any:
    """A settings value as JSON, secrets revealed, defaults left out."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        out = {}
        for name, field in type(value).model_fields.items():
            current = getattr(value, name)
            default = field.get_default(call_default_factory=True)
            if current != default:
                out[name] = _plain(current)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """`settings` as the `GANTRAL_*` variables a deployment would set (one JSON value per
    top-level section), plus `extra`, over a minimal inherited environment."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    for name, section in _plain(settings).items():
        encoded = section if isinstance(section, str) else json.dumps(section)
        env[f"GANTRAL_{name.upper()}"] = encoded
    env.update(extra)
    return env


class Process:
    """One entry point, its log file, its exit status."""

    def __init__(self, name: str, env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self.metrics_url = ""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                ARGV[name], cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT
            )

    def wait_for(self, ready: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.popen.returncode}:\n{self.text()}")
            if ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {timeout}s:\n{self.text()}")

    def logged(self, text: str) -> bool:
        return text in self.text()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self) -> None:
        self.popen.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"{self.name} still running {timeout}s after SIGTERM") from None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def check_json_lines(self) -> None:
        """Every line of its log is one JSON object with the common fields."""
        lines = [line for line in self.text().splitlines() if line.strip()]
        assert lines, f"{self.name} logged nothing"
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise AssertionError(f"{self.name}: not JSON: {line[:300]}") from None
            missing = {"time", "level", "logger", "message"} - set(record)
            assert not missing, f"{self.name}: {missing} missing in {line[:300]}"

    def check_clean_exit(self) -> None:
        """Exited 0, and nothing fatal in its log."""
        assert self.popen.returncode == 0, f"{self.name} exited {self.popen.returncode}"
        text = self.text()
        bad = [marker for marker in FATAL_MARKERS if marker in text]
        assert bad == [], f"{self.name} logged {bad}:\n{text[-4000:]}"

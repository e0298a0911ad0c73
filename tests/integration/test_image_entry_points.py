"""The image's entry points booted without Docker, on the real stack.

Gantral is installed as the Dockerfile installs it, into an empty virtualenv: the locked,
hash-checked dependencies of requirements.lock, then the wheels alone (`--no-deps`: the
SDK's, gantral-sdk, which the server depends on, then the server's), then `pip check`.
Each process then runs the very command line the Dockerfile or docker-compose.yml gives it,
from a directory outside the repository (nothing is imported from the source tree),
configured only by `GANTRAL_*` variables. One test: building the wheels and installing the
lock is the slow part, done once.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from psycopg.conninfo import make_conninfo

from gantral.devstack.process import free_port
from gantral.settings import Settings
from gantral.settings.identity import IdentitySettings
from tests.helpers.processes import Process, environment
from tests.helpers.session import ATTESTATION_PUBLIC
from tests.helpers.stack import Stack
from tests.helpers.wheels import SDK, built_wheel

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def _dockerfile_cmd() -> list[str]:
    (cmd,) = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    ]
    return list(yaml.safe_load(cmd.removeprefix("CMD ")))


def _run(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=900, **kwargs
    )  # type: ignore[call-overload]
    assert done.returncode == 0, f"{argv}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


class ImageProcess(Process):
    """A Process running `argv` as the image would: its venv first on PATH, cwd outside
    the repository."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        self.metrics_url = ""
        logs.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv, cwd=logs, env=env, stdout=out, stderr=subprocess.STDOUT
            )


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_image_entry_points_boot_from_the_wheel_and_the_lock(
    stack: Stack, settings: Settings, dev_issuer: IdentitySettings, tmp_path: Path
) -> None:
    # The Dockerfile's install, step by step, into an empty virtualenv.
    sdk_wheel = built_wheel(SDK, "gantral_sdk")  # the SDK the server depends on, then it
    wheel = built_wheel(ROOT, "gantral")
    venv = tmp_path / "image"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    _run(*pip, "--require-hashes", "--no-deps", "-r", ROOT / "requirements.lock")
    _run(*pip, "--no-deps", sdk_wheel)
    _run(*pip, "--no-deps", wheel)
    _run(python, "-m", "pip", "check")

    home = tmp_path / "app"  # the image's WORKDIR: not the source tree
    home.mkdir()
    imported = _run(
        python, "-c", "import gantral.api, gantral.workers; print(gantral.__file__)", cwd=home
    )
    assert imported.stdout.startswith(str(venv)), imported.stdout
    # The wheel claims no top-level name but `gantral`: nothing to clash with another project.
    clash = "import importlib.util as u; print([n for n in ('api', 'workers') if u.find_spec(n)])"
    assert _run(python, "-c", clash, cwd=home).stdout.strip() == "[]"

    def argv(command: list[str]) -> list[str]:
        # The image's PATH starts with its virtualenv: `python` and `gantral` are its own.
        return [str(venv / "bin" / command[0]), *command[1:]]

    # Its own database, bucket and task queues, like a fresh deployment.
    suffix = uuid.uuid4().hex[:8]
    with psycopg.connect(stack.postgres_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE image_{suffix}")
    dsn = make_conninfo(stack.postgres_uri, dbname=f"image_{suffix}")
    port = free_port()
    own = settings.model_copy(
        update={
            "temporal": settings.temporal.model_copy(
                update={"task_queue": f"image-{suffix}", "audit_task_queue": f"image-a-{suffix}"}
            ),
            "database": settings.database.model_validate(
                {"url": dsn, "reader_url": dsn, "registry_url": dsn}
            ),
            "s3": settings.s3.model_copy(update={"bucket": f"image-{suffix}"}),
            "identity": dev_issuer,
        }
    )
    verifier = own.model_copy(
        update={
            "attestation": own.attestation.model_validate({"public_keys": [ATTESTATION_PUBLIC]})
        }
    )
    base = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}

    # `keys`: the stack's key pairs, made with the command its script runs.
    keys_script = COMPOSE["keys"]["command"][0]
    assert "gantral audit keygen --out" in keys_script
    key = home / "keys" / "signing-key.pem"
    key.parent.mkdir()
    _run(*argv(["gantral", "audit", "keygen", "--out", str(key)]), cwd=home, env=base)
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")

    # `migrate`: the audit schema, created by an owner with compose's one-liner.
    migrate = _run(
        *argv(COMPOSE["migrate"]["command"]), cwd=home, env={**base, "OWNER_DATABASE_URL": dsn}
    )
    assert "audit schema version" in migrate.stdout

    procs: list[ImageProcess] = []
    try:
        metrics = {name: free_port() for name in ("sink", "worker")}
        for name, marker in (("sink", "audit sink serving"), ("worker", "instance worker on")):
            command = COMPOSE[name]["command"]
            env = {
                **environment(verifier),
                **base,
                f"GANTRAL_{name.upper()}__METRICS_HOST": "127.0.0.1",
                f"GANTRAL_{name.upper()}__METRICS_PORT": str(metrics[name]),
            }
            proc = ImageProcess(name, argv(command), env, home)
            procs.append(proc)
            proc.wait_for(lambda proc=proc, marker=marker: proc.logged(marker), timeout=120)
            proc.wait_for(lambda n=name: _ready(f"http://127.0.0.1:{metrics[n]}/readyz"))

        # `api`: the Dockerfile's CMD, the same as compose's command.
        assert COMPOSE["api"]["command"] == _dockerfile_cmd()
        api_env = {
            **environment(own),
            **base,
            "GANTRAL_API__HOST": "127.0.0.1",
            "GANTRAL_API__PORT": str(port),
        }
        api = ImageProcess("api", argv(_dockerfile_cmd()), api_env, home)
        procs.append(api)
        api.wait_for(lambda: _ready(f"http://127.0.0.1:{port}/readyz"), timeout=120)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200

        # `channels`: with no channel configured it starts, reads its settings and says so.
        channels = subprocess.run(
            argv(COMPOSE["channels"]["command"]),
            cwd=home, env={**environment(own), **base}, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert "no channel is configured" in channels.stdout + channels.stderr, shlex.join(
            COMPOSE["channels"]["command"]
        )

        # Every process drains on SIGTERM and exits 0 with nothing fatal logged.
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(60)
            proc.check_clean_exit()
    finally:
        for proc in procs:
            proc.kill()

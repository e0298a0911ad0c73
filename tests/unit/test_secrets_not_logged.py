"""Secrets given to the real entry points never reach their logs, even when a failure
puts them into an exception message (the audit sink's signing key below does)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gantral.devstack.process import free_port

ROOT = Path(__file__).parents[2]
DB_PASSWORD = "Pw-db-S3cret-41"
SECRETS = {
    "GANTRAL_DATABASE__URL": f"postgresql://gantral:{DB_PASSWORD}@127.0.0.1:9/gantral",
    "GANTRAL_DATABASE__READER_URL": "postgresql://reader:Pw-reader-S3cret-42@127.0.0.1:9/g",
    "GANTRAL_DATABASE__REGISTRY_URL": "postgresql://registry:Pw-registry-S3cret-43@127.0.0.1:9/g",
    "GANTRAL_S3__SECRET_ACCESS_KEY": "s3-Secret-Access-Key-44",
    # Not a PEM nor an existing file: loading it fails with the value in the message.
    "GANTRAL_AUDIT__SIGNING_KEY": "audit-Signing-Key-S3cret-45",
    "GANTRAL_IDENTITY__VAULT__TOKEN": "hvs.Vault-Token-S3cret-46",
}
FROM_FILE = "s3-Access-Key-From-File-47"


def secret_values() -> list[str]:
    return [*SECRETS.values(), DB_PASSWORD, FROM_FILE]


def run(argv: list[str], tmp_path: Path, **env: str) -> str:
    key_file = tmp_path / "s3-access-key"
    key_file.write_text(FROM_FILE + "\n")
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GANTRAL_TEMPORAL__ADDRESS": "127.0.0.1:9",  # nothing listens: startup fails
        "GANTRAL_S3__ACCESS_KEY_ID": f"file:{key_file}",
        "GANTRAL_WORKFLOWS_DIR": str(tmp_path),
        **SECRETS,
        **env,
    }
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0, "the process should have failed to start"
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("argv", "logged"),
    [
        (["-m", "gantral.workers.sink"], "audit sink stopped"),
        (["-m", "gantral.workers.worker"], "instance worker stopped"),
        (
            ["-m", "uvicorn", "gantral.api.app:create_app", "--factory", "--port", "PORT"],
            "Application startup failed",
        ),
    ],
    ids=["sink", "worker", "api"],
)
def test_entry_points_never_log_secrets(argv: list[str], logged: str, tmp_path: Path) -> None:
    argv = [str(free_port()) if arg == "PORT" else arg for arg in argv]
    output = run(argv, tmp_path)
    assert logged in output, output
    assert "Traceback" in output  # the failure is logged in full ...
    leaked = [value for value in secret_values() if value in output]
    assert leaked == [], output  # ... with every secret masked


def test_sink_failure_would_have_shown_the_key(tmp_path: Path) -> None:
    """The masking is what keeps the sink's log clean: the raw error names the key."""
    output = run(["-m", "gantral.workers.sink"], tmp_path)
    assert "No such file or directory: '***'" in output


def test_api_refuses_production_with_the_dev_issuer_without_echoing_settings(
    tmp_path: Path,
) -> None:
    code = "from gantral.api.app import create_app; create_app()"
    output = run(["-c", code], tmp_path, GANTRAL_PROFILE="production")
    assert "refusing to start" in output
    assert "GANTRAL_IDENTITY__DEV_ISSUER__ENABLED must be false" in output
    assert [value for value in secret_values() if value in output] == []

"""A mistyped `GANTRAL_*` variable stops the process naming it (and the nearest real
name), instead of being silently ignored; other programs' flat variables are left alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gantral.startup import unknown_settings, unknown_variables
from tests.helpers.deploy_settings import gantral_env_names

ROOT = Path(__file__).parents[2]


def test_every_real_setting_is_known() -> None:
    assert unknown_variables({name: "x" for name in gantral_env_names()}) == []


def test_mistyped_names_are_named_with_the_nearest_real_one() -> None:
    found = unknown_variables(
        {
            "GANTRAL_TEMPORAL__ADRESS": "x",
            "GANTRAL_PROFIL": "x",
            "GANTRAL_NOPE__AT_ALL": "x",
            # Read by others (the SDK, the examples, the callbacks worker): not refused.
            "GANTRAL_API_URL": "x",
            "GANTRAL_TOKEN": "x",
            "GANTRAL_CALLBACKS__SECRET": "x",
            # Mapping fields take any key.
            "GANTRAL_IDENTITY__CLAIMS__ROLE_MAPPING__ADMINS": "[]",
        }
    )
    assert found == [
        "GANTRAL_NOPE__AT_ALL",
        "GANTRAL_PROFIL (did you mean GANTRAL_PROFILE?)",
        "GANTRAL_TEMPORAL__ADRESS (did you mean GANTRAL_TEMPORAL__ADDRESS?)",
    ]


def test_a_process_refuses_to_start_naming_the_variable(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GANTRAL_TEMPORAL__ADRESS": "127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gantral.workers.worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "unknown settings: GANTRAL_TEMPORAL__ADRESS" in done.stderr
    assert "did you mean GANTRAL_TEMPORAL__ADDRESS?" in done.stderr


def test_env_file_entries_are_checked_like_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "# the settings read this file too\n"
        "GANTRAL_TEMPORAL__ADDRESS=127.0.0.1:7233\n"
        "export GANTRAL_S3__BUKET=audit\n"
        "POSTGRES_PASSWORD=not-ours\n"
        "GANTRAL_API_URL=http://127.0.0.1:8000\n"
    )
    assert unknown_settings({"GANTRAL_PROFIL": "x"}) == [
        "GANTRAL_PROFIL (did you mean GANTRAL_PROFILE?)",
        "GANTRAL_S3__BUKET (did you mean GANTRAL_S3__BUCKET?) in .env",
    ]
    (tmp_path / ".env").write_text("GANTRAL_S3__BUCKET=audit\nOTHER=1\n")
    assert unknown_settings({}) == []


def test_a_process_refuses_a_mistyped_env_file_entry(tmp_path: Path) -> None:
    """The worker started where a `.env` has a typo: it stops naming the entry and the file,
    never its value."""
    (tmp_path / ".env").write_text("GANTRAL_TEMPORAL__ADRESS=secret-looking-value\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "gantral.workers.worker"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert (
        "unknown settings: GANTRAL_TEMPORAL__ADRESS (did you mean GANTRAL_TEMPORAL__ADDRESS?)"
        " in .env" in done.stderr
    ), done.stderr
    assert "secret-looking-value" not in done.stderr


def test_gantral_dev_refuses_a_mistyped_env_file_entry_before_starting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GANTRAL_SLACK__BOT_TOKN=xoxb-1\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", "from gantral.cli import main; main()", "dev",
         "--data-dir", str(tmp_path / ".data")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gantral dev: unknown settings: GANTRAL_SLACK__BOT_TOKN" in done.stderr, done.stderr
    assert "in .env" in done.stderr and "postgres" not in done.stdout

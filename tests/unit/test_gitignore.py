"""Files that hold secrets are ignored by git: `.env` and every env file Compose reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose_env_files() -> set[str]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    files = set()
    for service in services.values():
        for entry in service.get("env_file") or []:
            files.add(entry["path"] if isinstance(entry, dict) else entry)
    return files


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)
def test_secret_env_files_are_ignored() -> None:
    names = {".env"} | _compose_env_files()
    assert {"channels.env", "callbacks.env"} <= names  # the compose file still reads them
    for name in sorted(names):
        # --no-index: judge the rules alone, whether or not such a file exists or is tracked
        result = subprocess.run(
            ["git", "check-ignore", "--no-index", "-q", name], cwd=ROOT, check=False
        )
        assert result.returncode == 0, f"{name} is not ignored by .gitignore"

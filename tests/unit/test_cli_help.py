"""The `gantral` command's help labels options as an operator reads them (`--skip-signatures`,
`--public-key TEXT...`, `INSTANCE_IDS... TEXT`), never typer's `<bool>` or `<list[str]>`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def help_text(*command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from gantral.cli import main; main()", *command, "--help"],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize(
    "command",
    [(), ("dev",), ("audit", "verify"), ("audit", "export"), ("policy", "validate"),
     ("identity", "mint"), ("specs", "write")],
    ids=lambda c: " ".join(c) or "gantral",
)  # fmt: skip
def test_no_python_type_names_in_help(command: tuple[str, ...]) -> None:
    text = help_text(*command)
    assert "<" not in text and "list[" not in text, text


def test_options_carry_plain_labels() -> None:
    text = help_text("audit", "verify")
    lines = {line.split()[1]: line for line in text.splitlines() if line.startswith("│ --")}
    assert "TEXT..." in lines["--public-key"] and "PATH..." in lines["--bundle"]
    assert lines["--skip-signatures"].split()[2] == "Verify"  # a flag takes no value
    assert "INSTANCE_IDS..." in text

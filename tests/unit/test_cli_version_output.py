"""The `gantral` command as a tool among others: `--version` names the installed version,
shell completion is on (and documented), and every command that lists or reports takes
`--output json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CLI = [sys.executable, "-c", "from gantral.cli import main; main()"]


def gantral(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, env={**os.environ, "COLUMNS": "160", **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_version_is_the_installed_distributions() -> None:
    done = gantral("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"gantral {version('gantral')}\n"


def test_shell_completion_completes_commands_and_subcommands() -> None:
    """Through the installed `gantral` script, as a shell calls it (completion is keyed on
    the program's name)."""
    script_path = Path(sys.executable).parent / "gantral"

    def gantral(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script_path), *args], env={**os.environ, **env},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    said = gantral(
        _GANTRAL_COMPLETE="complete_bash", COMP_WORDS="gantral requests ", COMP_CWORD="2"
    )
    assert said.stdout.split() == ["list", "show", "approve", "reject", "override", "decide"], said
    said = gantral(_GANTRAL_COMPLETE="complete_bash", COMP_WORDS="gantral au", COMP_CWORD="1")
    assert said.stdout.split() == ["audit"], said
    script = gantral("--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert "_GANTRAL_COMPLETE=complete_bash" in script.stdout, script
    help_text = gantral("--help").stdout
    assert "--install-completion" in help_text and "--version" in help_text
    docs = (ROOT / "docs" / "cli.md").read_text()
    assert "gantral --install-completion" in docs and "--output json" in docs


@pytest.mark.parametrize(
    "command", [("requests", "list"), ("policy", "validate"), ("audit", "verify")], ids=" ".join
)
def test_listing_and_reporting_commands_take_output_json(command: tuple[str, ...]) -> None:
    text = gantral(*command, "--help").stdout
    assert "--output" in text and "text|json" in text, text


def test_policy_validate_reports_as_json(tmp_path: Path) -> None:
    examples = sorted(str(p) for p in (ROOT / "examples" / "workflows").glob("*.yaml"))
    done = gantral("policy", "validate", *examples, "--output", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and [f["file"] for f in report["files"]] == examples
    assert all(f["content_hash"].startswith("sha256:") for f in report["files"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nnope: 1\n")
    done = gantral("policy", "validate", examples[0], str(bad), "--output", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["files"][0]["ok"] is True
    assert report["files"][1]["errors"][0]["field"] == "nope", report
    refused = gantral("policy", "validate", examples[0], "--output", "xml")
    assert refused.returncode == 2 and "'xml' is not one of 'text', 'json'" in refused.stderr

"""External linters some tests run (checkov, promtool): found on PATH or where
`make ci-tools` puts them (`make test` runs it first). Under CI=true a missing tool fails
the test; elsewhere the test is skipped with the reason and the command that installs it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

TOOLS_BIN = Path(__file__).resolve().parents[2] / ".data" / "tools" / "bin"


def required_tool(name: str) -> str:
    """The path of `name`, or a skip (a failure under CI) saying how to install it."""
    found = shutil.which(name) or shutil.which(name, path=str(TOOLS_BIN))
    if found:
        return found
    reason = f"{name} is not installed: `make ci-tools` installs it into {TOOLS_BIN}"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test: {reason}", pytrace=False)
    pytest.skip(reason)

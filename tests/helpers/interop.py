"""The Go checkers under tests/interop, built against Debian's golang.org/x/mod: proof that
Gantral's notes and proofs verify with the reference implementation."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

INTEROP = Path(__file__).resolve().parents[1] / "interop"

CHECKER = INTEROP / "note_check"

# GOPATH roots holding Debian's golang.org/x/mod: `make interop-deps` unpacks it into the
# first; an installed golang-golang-x-mod-dev provides the second.
GOCODE_ROOTS = (
    Path(__file__).resolve().parents[2] / ".data/tools/gocode",
    Path("/usr/share/gocode"),
)


NOTE_PACKAGE = Path("src/golang.org/x/mod/sumdb/note/note.go")


def go_checker(tmp: Path, checker: Path = CHECKER) -> Path:
    """Build a Go checker under tests/interop against Debian's golang.org/x/mod (skips
    with the reason where Go or the package is missing)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed (Debian: apt-get install golang-go)")
    roots = [root for root in GOCODE_ROOTS if (root / NOTE_PACKAGE).is_file()]
    if not roots:
        pytest.skip(
            "golang.org/x/mod/sumdb/note is missing: run `make interop-deps` (unpacks"
            " Debian's golang-golang-x-mod-dev) or apt-get install golang-golang-x-mod-dev"
        )
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": f"{roots[0]}:{tmp / 'gopath'}",
        "GOCACHE": str(tmp / "gocache"),
        "GOFLAGS": "",
    }
    binary = tmp / checker.name
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=checker, env=env, check=True)
    return binary

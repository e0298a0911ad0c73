"""The licence travels with every artifact: the Apache-2.0 text (verbatim) at the root and
in each SDK package, declared in the metadata, and present in the built wheel and in the
npm tarball, so whoever installs either has the licence it is distributed under."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.helpers.wheels import SDK, built_wheel

ROOT = Path(__file__).resolve().parents[2]
# SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the canonical text.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
PACKAGES = [ROOT, ROOT / "sdk" / "python", ROOT / "sdk" / "typescript", ROOT / "sdk" / "go"]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: str(p.relative_to(ROOT)) or ".")
def test_every_package_carries_the_apache_2_text_verbatim(package: Path) -> None:
    text = (package / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256


def test_metadata_names_the_licence_and_its_files() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert set(project["license-files"]) == {"LICENSE", "NOTICE"}
    assert "Apache License" in (ROOT / "NOTICE").read_text()
    package = json.loads((ROOT / "sdk" / "typescript" / "package.json").read_text())
    assert package["license"] == "Apache-2.0" and "LICENSE" in package["files"]
    assert "[LICENSE](LICENSE)" in (ROOT / "sdk" / "go" / "README.md").read_text()
    # The image builds the wheel from copied files: the licence files must be among them.
    assert "COPY pyproject.toml README.md LICENSE NOTICE ./" in (ROOT / "Dockerfile").read_text()


def test_the_built_wheel_contains_the_licence_and_notice(tmp_path: Path) -> None:
    """Built as the Dockerfile builds it: from a copy holding only what it copies."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "NOTICE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "gantral", src / "gantral", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(src)],
        check=True,
        timeout=600,
    )
    (wheel,) = out.glob("gantral-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert hashlib.sha256(zf.read(licence)).hexdigest() == APACHE_2_SHA256
        assert any(n.endswith(".dist-info/licenses/NOTICE") for n in names), names
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    # Every module lives under `gantral.`: no top-level `api` or `workers` to clash with.
    assert {n.split("/")[0] for n in names if n.endswith(".py")} == {"gantral"}, names
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata and "License-File: NOTICE" in metadata


def test_the_sdk_wheel_contains_the_licence_and_is_typed() -> None:
    sdk = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    assert sdk["license"] == "Apache-2.0" and sdk["license-files"] == ["LICENSE"]
    wheel = built_wheel(SDK, "gantral_sdk")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert hashlib.sha256(zf.read(licence)).hexdigest() == APACHE_2_SHA256
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "gantral_sdk/py.typed" in names
    assert not [n for n in names if n.startswith(("gantral/", "api/", "workers/"))]
    assert "License-Expression: Apache-2.0" in metadata


def test_the_npm_tarball_contains_the_licence() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the TypeScript SDK needs Node 20 with npm on PATH: run `make sdk`")
    packed = subprocess.run(
        [npm, "pack", "--dry-run", "--json", "--ignore-scripts"],
        cwd=ROOT / "sdk" / "typescript",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    (tarball,) = json.loads(packed.stdout)
    assert "LICENSE" in {entry["path"] for entry in tarball["files"]}, tarball["files"]

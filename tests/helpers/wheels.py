"""Wheels built from the source tree once per session: several tests install or open the
same one, and each `pip wheel` costs 5-10 s of a loaded CI machine."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk" / "python"

_BUILT: dict[Path, Path] = {}


def built_wheel(source: Path, name: str) -> Path:
    """The wheel of the project at `source` (distribution `name`, e.g. `gantral_sdk`),
    built as a user builds it (`pip wheel --no-deps`), once per session. Read it only."""
    if source not in _BUILT:
        out = Path(tempfile.mkdtemp(prefix=f"gantral-wheel-{name}-"))
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out),
             str(source)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, f"pip wheel {source}:\n{done.stdout}\n{done.stderr}"
        (_BUILT[source],) = out.glob(f"{name}-*.whl")
    return _BUILT[source]

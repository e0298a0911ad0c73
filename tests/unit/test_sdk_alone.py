"""The SDK imports nothing of the server: loading it pulls in no `gantral`, Temporal or
FastAPI module (the wheel test, tests/integration/test_sdk_wheel.py, checks the same in
an empty virtualenv where they are not even installed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SDK_SRC = Path(__file__).parents[2] / "sdk" / "python" / "src" / "gantral_sdk"


def test_importing_the_sdk_loads_nothing_of_the_server() -> None:
    code = (
        "import json, sys, gantral_sdk, gantral_sdk._unasync\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    server = [
        m
        for m in loaded
        if m.split(".")[0] in {"gantral", "api", "workers", "temporalio", "fastapi", "starlette"}
    ]
    assert server == []


def test_no_sdk_module_names_the_server_package() -> None:
    for module in SDK_SRC.glob("*.py"):
        for line in module.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                assert not stripped.split()[1].startswith(("gantral.", "api", "workers")), (
                    f"{module.name}: {stripped}"
                )
                assert stripped.split()[1] != "gantral", f"{module.name}: {stripped}"


def test_the_package_is_typed() -> None:
    assert (SDK_SRC / "py.typed").is_file()

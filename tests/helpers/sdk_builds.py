"""Running the SDKs' own programs: a subprocess on the test's event loop, and the TypeScript
SDK compiled once per session."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TS_DIR = ROOT / "sdk" / "typescript"

RUN_TIMEOUT = 240.0


async def run_process(*argv: str, cwd: Path, env: dict[str, str]) -> str:
    """A subprocess on this event loop (the API it calls is served from this loop too)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, f"{' '.join(argv)} failed:\n{err.decode()}\n{out.decode()}"
    return out.decode()


_BUILT: set[str] = set()


def _dist_is_current() -> bool:
    """Whether dist/ holds tsconfig.json's build of every current source, each output newer
    than every input: `make test` compiled exactly that just before (`make sdk` runs
    `npm test`, `tsc -p tsconfig.json`), and a second compile costs 10-15 s of a loaded CI
    machine. An edited or checked-out source is newer than its output: compiled again."""
    sources = [p for d in ("src", "test", "scenario") for p in (TS_DIR / d).rglob("*.ts")]
    outputs = [TS_DIR / "dist" / p.relative_to(TS_DIR).with_suffix(".js") for p in sources]
    if not sources or not all(out.is_file() for out in outputs):
        return False
    newest_input = max(p.stat().st_mtime for p in [*sources, TS_DIR / "tsconfig.json"])
    return newest_input < min(out.stat().st_mtime for out in outputs)


async def build_typescript() -> str:
    """Compiles the TypeScript SDK and its scenarios (once per session, unless dist/ is
    already current); returns the `node` to run them."""
    node = shutil.which("node")
    tsc = TS_DIR / "node_modules" / "typescript" / "bin" / "tsc"
    if node is None or not tsc.exists():
        pytest.fail(
            "the TypeScript SDK needs Node 20 and `npm ci` in sdk/typescript: run `make sdk`"
        )
    if node not in _BUILT:
        if not _dist_is_current():
            await run_process(node, str(tsc), "-p", "tsconfig.json", cwd=TS_DIR, env={})
        _BUILT.add(node)
    return node

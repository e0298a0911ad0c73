"""Generate the blocking SDK client from the asyncio one, so the two cannot drift.

    .venv/bin/python -m gantral_sdk._unasync    # rewrites _sync_client.py beside it

`tests/unit/test_sdk_sync_generated.py` fails when the committed file differs from what
this produces. Edit `_async_client.py`, never `_sync_client.py`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE / "_async_client.py"
TARGET = HERE / "_sync_client.py"

# Literal replacements, in order: names first, then syntax.
_RULES: list[tuple[str, str]] = [
    (
        '"""The asyncio client."""',
        '"""The blocking client: the same protocol as the asyncio one."""',
    ),
    ("import asyncio\n", ""),
    (
        "from collections.abc import AsyncIterator, Awaitable, Callable",
        "from collections.abc import Callable, Iterator",
    ),
    ("Talks to the Gantral API with asyncio.", "Talks to the Gantral API, blocking."),
    ("AsyncGantralClient", "GantralClient"),
    ("httpx.AsyncClient", "httpx.Client"),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("aclose", "close"),
    ("asyncio.sleep", "time.sleep"),
    ("@contextlib.asynccontextmanager", "@contextlib.contextmanager"),
    ("AsyncIterator[", "Iterator["),
    ("Awaitable[R]", "R"),
    ("Decorate an async function", "Decorate a function"),
    ("async with ", "with "),
    ("async for ", "for "),
    ("async def ", "def "),
]
_AWAIT = re.compile(r"\bawait ")


def generate() -> str:
    text = SOURCE.read_text()
    for old, new in _RULES:
        text = text.replace(old, new)
    text = _AWAIT.sub("", text)
    header = "# Generated from _async_client.py by gantral_sdk._unasync: do not edit.\n"
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=header + text,
        capture_output=True,
        text=True,
        check=True,
    )
    return formatted.stdout


if __name__ == "__main__":
    TARGET.write_text(generate())

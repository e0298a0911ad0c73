"""Long-polling a human request the way a client does: the API holds each poll at most
`MAX_HOLD_SECONDS` (8 s), answering a request still PENDING as it stands, so ask again
until the caller's own deadline."""

from __future__ import annotations

import time
from typing import Any

import httpx


async def long_poll(
    api: httpx.AsyncClient, url: str, headers: dict[str, str], wait: float
) -> dict[str, Any]:
    """The request at `url` once it is no longer PENDING, or as it stands after `wait` s."""
    deadline = time.monotonic() + wait
    while True:
        left = max(0.0, deadline - time.monotonic())
        resp = await api.get(f"{url}?wait={left:.3f}", headers=headers)
        body = dict(resp.json())
        if body.get("status") != "PENDING" or time.monotonic() >= deadline:
            return body

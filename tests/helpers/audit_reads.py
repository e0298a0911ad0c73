"""Reading an instance's audit trail through the API, by event type."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.helpers.auth import AUDITOR


async def audit_of(api: httpx.AsyncClient, iid: str, kind: str) -> list[dict[str, Any]]:
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200:
            found = [e for e in resp.json()["events"] if e["type"] == kind]
            if found:
                return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {kind} stored for {iid}")

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


async def exported_bundle(api: httpx.AsyncClient, iid: str) -> dict[str, Any]:
    """The sealed instance's exported (object-locked) bundle, once the sink has written it:
    the seal is answered on its commit and exported just after."""
    for _ in range(150):
        trail = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if trail.status_code == 200 and trail.json()["bundle_keys"]:
            resp = await api.get(f"/v1/audit/instances/{iid}/bundle", headers=AUDITOR)
            assert resp.status_code == 200, resp.text
            bundle: dict[str, Any] = resp.json()
            return bundle
        await asyncio.sleep(0.2)
    raise AssertionError(f"the bundle of {iid} was not exported in time")

"""Reading the access log (refusals that are not written into any instance) in tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from temporalio.client import Client

from gantral.workflows.access_log import ACCESS_LOG_ID, AccessLogWorkflow
from tests.helpers.auth import AUDITOR

__all__ = ["access_log_segment", "admin_actions", "refusals_of", "refusals_on"]


async def access_log_segment(temporal: Client) -> str:
    """The audit instance id of the access log's current segment."""
    handle = temporal.get_workflow_handle_for(AccessLogWorkflow.run, ACCESS_LOG_ID)
    return await handle.query(AccessLogWorkflow.segment_id)


async def admin_actions(
    api: httpx.AsyncClient, temporal: Client, count: int, key: str, value: str
) -> list[dict[str, Any]]:
    """The ADMIN_ACTION events of the current segment whose detail has `key` = `value`,
    once `count` are stored (or what is there after about 10 s)."""
    segment = await access_log_segment(temporal)
    acts: list[dict[str, Any]] = []
    for _ in range(100):
        trail = (await api.get(f"/v1/audit/instances/{segment}", headers=AUDITOR)).json()
        acts = [
            e
            for e in trail["events"]
            if e["type"] == "ADMIN_ACTION" and e["payload"]["detail"].get(key) == value
        ]
        if len(acts) == count:
            break
        await asyncio.sleep(0.1)
    return acts


async def refusals_of(
    api: httpx.AsyncClient, temporal: Client, actor_id: str, count: int = 1
) -> list[dict[str, Any]]:
    """The ACCESS_REFUSED events of `actor_id`, once at least `count` are stored."""
    mine: list[dict[str, Any]] = []
    for _ in range(100):
        segment = await access_log_segment(temporal)
        resp = await api.get(f"/v1/audit/instances/{segment}", headers=AUDITOR)
        events = resp.json().get("events", []) if resp.status_code == 200 else []
        mine = [e for e in events if e["type"] == "ACCESS_REFUSED" and e["actor"]["id"] == actor_id]
        if len(mine) >= count:
            break
        await asyncio.sleep(0.1)
    return mine


async def _all_refusals(api: httpx.AsyncClient, temporal: Client) -> list[dict[str, Any]]:
    """Every ACCESS_REFUSED event of the current epoch, across its segments."""
    current = await access_log_segment(temporal)
    prefix, last = current.rsplit("-", 1)
    found: list[dict[str, Any]] = []
    for n in range(1, int(last) + 1):
        resp = await api.get(f"/v1/audit/instances/{prefix}-{n:06d}", headers=AUDITOR)
        if resp.status_code == 200:
            found += [e for e in resp.json()["events"] if e["type"] == "ACCESS_REFUSED"]
    return found


async def refusals_on(
    api: httpx.AsyncClient, temporal: Client, instance_id: str, count: int
) -> list[dict[str, Any]]:
    """The refusals recorded about `instance_id`, once at least `count` are stored."""
    found: list[dict[str, Any]] = []
    for _ in range(150):
        found = [
            e
            for e in await _all_refusals(api, temporal)
            if e["payload"].get("instance_id") == instance_id
        ]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(found)} refusals about {instance_id}, expected {count}")

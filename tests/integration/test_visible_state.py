"""What Temporal's own tools show of an instance (search attributes, memo), kept current at
every change, and upserted only when it changed: each upsert is a history event and work
for every workflow task."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from gantral.workflows import search
from tests.helpers.auth import AGENT, LEAD
from tests.helpers.lifecycle import authorize, decide, start

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def _visible(temporal: Client, iid: str) -> tuple[str | None, list[str] | None, Any]:
    desc = await temporal.get_workflow_handle(iid).describe()
    attrs = desc.typed_search_attributes
    return attrs.get(search.STATE), attrs.get(search.NEEDS_ROLES), await desc.memo_value("summary")


async def _upserts(temporal: Client, iid: str) -> tuple[int, int]:
    """(search attribute upserts, memo upserts) in the instance's history."""
    attrs = memos = 0
    async for event in temporal.get_workflow_handle(iid).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            # Temporal's own (TemporalChangeVersion, one per patch) are not Gantral's.
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            attrs += any(key.startswith("Gantral") for key in fields.indexed_fields)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
            memos += 1
    return attrs, memos


async def test_the_visible_state_follows_each_change_and_only_changes(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid = (await start(api))["instance_id"]
    # The start's own workflow task shows RUNNING; an authorize handled in that same task
    # would go straight to WAITING (one visible change fewer), so ask once it is shown.
    for _ in range(100):
        if (await _visible(temporal, iid))[0] == "RUNNING":
            break
        await asyncio.sleep(0.05)
    pending = await authorize(api, iid)
    # Supervision then enters the first tier and shows its deadline.
    for _ in range(100):
        state, roles, summary = await _visible(temporal, iid)
        if " by " in summary:
            break
        await asyncio.sleep(0.05)
    assert state == "WAITING_FOR_HUMAN" and roles == ["TECH_LEAD"]
    assert "on step deploy" in summary and "needs TECH_LEAD by " in summary

    # Calls that change nothing visible upsert nothing: a cost report while waiting.
    before = await _upserts(temporal, iid)
    for tokens in (10, 20, 30):
        body = {"kind": "COST", "cost": {"tokens": tokens}}
        resp = await api.post(f"/v1/instances/{iid}/events", json=body, headers=AGENT)
        assert resp.status_code == 200, resp.text
    assert await _upserts(temporal, iid) == before

    rid = pending["request"]["request_id"]
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    outcome = await api.get(f"/v1/instances/{iid}/requests/{rid}?wait=20", headers=AGENT)
    assert outcome.json()["grant"] is not None
    state, roles, summary = await _visible(temporal, iid)
    assert state == "RUNNING" and not roles
    assert "needs" not in summary

    done = await api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT)
    assert done.status_code == 200, done.text
    state, roles, summary = await _visible(temporal, iid)
    assert state == "COMPLETED" and summary.endswith("COMPLETED")
    # Each upsert is a visible change. Search attributes: running, waiting, running again,
    # completed. Memo: those four and the deadline shown once supervision set it.
    assert await _upserts(temporal, iid) == (4, 5)

"""The access log on the real stack: it survives its workflow ending, and administrator
actions are recorded in it (and confirmed stored) before they may take effect."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from gantral.audit.reader import AuditReader
from gantral.audit.verifier import verify_database
from gantral.core import GantralCore
from gantral.domain.actors import Actor, ActorKind
from gantral.errors import Forbidden, InvalidInput, Unavailable
from gantral.policy.registry import InMemoryRegistry
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.workflows.access_log import ACCESS_LOG_ID, AccessLogWorkflow
from tests.helpers.auth import AUDITOR, bearer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ADMIN = Actor(id="root-admin", kind=ActorKind.HUMAN, roles=["platform-admin"])


@pytest_asyncio.fixture(loop_scope="session")
async def reader(settings: Settings, audit_config: AuditSettings) -> AsyncIterator[AuditReader]:
    opened = await AuditReader.open(
        settings.database.reader_url.get_secret_value(), config=audit_config
    )
    yield opened
    await opened.close()


async def _segment(temporal: Client) -> str:
    handle = temporal.get_workflow_handle_for(AccessLogWorkflow.run, ACCESS_LOG_ID)
    return await handle.query(AccessLogWorkflow.segment_id)


async def _events_of(api: httpx.AsyncClient, segment: str, actor_id: str) -> list[dict[str, Any]]:
    """The segment's events by this actor, once stored (refusals are signalled, async)."""
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{segment}", headers=AUDITOR)
        events = resp.json().get("events", []) if resp.status_code == 200 else []
        mine = [e for e in events if e["actor"]["id"] == actor_id]
        if mine:
            return mine
        await asyncio.sleep(0.1)
    return []


async def _refuse(api: httpx.AsyncClient) -> str:
    """A refusal that belongs to no instance: starting one for a team one is not in."""
    who = f"mallory-{uuid.uuid4().hex[:6]}"
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    refused = await api.post("/v1/instances", json=body, headers=bearer(who, ["approver"]))
    assert refused.status_code == 403
    return who


async def _verified(reader: AuditReader, segment: str) -> None:
    report = await verify_database(
        reader.queries, objects=None, public_key=None, instance_ids=[segment], check_log=False
    )
    assert report.ok and report.events >= 1, report.problems


async def test_a_refusal_after_the_access_log_ended_is_stored_and_verifies(
    api: httpx.AsyncClient, temporal: Client, reader: AuditReader
) -> None:
    before = await _refuse(api)
    first = await _segment(temporal)
    assert [e["type"] for e in await _events_of(api, first, before)] == ["ACCESS_REFUSED"]
    await temporal.get_workflow_handle(ACCESS_LOG_ID).terminate("test: the access log ends")

    after = await _refuse(api)
    second = await _segment(temporal)
    assert second != first  # a new epoch: the stored segment is never written again
    assert [e["type"] for e in await _events_of(api, second, after)] == ["ACCESS_REFUSED"]
    # Both chains verify: the old one untouched, the new one starting at seq 1.
    await _verified(reader, first)
    await _verified(reader, second)
    stored = (await api.get(f"/v1/audit/instances/{second}", headers=AUDITOR)).json()
    assert stored["events"][0]["seq"] == 1
    desc = await temporal.get_workflow_handle(ACCESS_LOG_ID).describe()
    assert desc.status is not None and desc.status.name == "RUNNING"


async def test_admin_action_is_stored_before_the_call_returns(
    api: httpx.AsyncClient, temporal: Client, settings: Settings, reader: AuditReader
) -> None:
    core = GantralCore(temporal, settings, InMemoryRegistry())
    # Also after the access log ended: the Update starts a new run (update-with-start).
    await temporal.get_workflow_handle(ACCESS_LOG_ID).terminate("test: the access log ends")
    detail = {"workflow_id": "deploy", "version": 1, "reason": f"r-{uuid.uuid4().hex[:6]}"}
    await core.record_admin_action(ADMIN, "keep_workflow_version_active", detail)
    segment = await _segment(temporal)
    # No waiting: the call returned only once the sink had stored the event.
    stored = (await api.get(f"/v1/audit/instances/{segment}", headers=AUDITOR)).json()
    mine = [e for e in stored["events"] if e["payload"].get("detail") == detail]
    assert [e["type"] for e in mine] == ["ADMIN_ACTION"]
    assert mine[0]["actor"]["id"] == ADMIN.id
    assert mine[0]["payload"]["action"] == "keep_workflow_version_active"
    await _verified(reader, segment)


async def test_admin_action_that_cannot_be_recorded_raises(
    api: httpx.AsyncClient, temporal: Client, settings: Settings, reader: AuditReader
) -> None:
    core = GantralCore(temporal, settings, InMemoryRegistry())
    with pytest.raises(InvalidInput):  # not I-JSON: refused before it enters the outbox
        await core.record_admin_action(ADMIN, "keep_workflow_version_active", {"n": 2**60})
    agent = Actor(id="bot", kind=ActorKind.AGENT)
    with pytest.raises(Forbidden):
        await core.record_admin_action(agent, "keep_workflow_version_active", {})
    # Temporal refuses the call (here: a namespace that does not exist): never a silent
    # success, always `Unavailable`.
    nowhere = await Client.connect(
        settings.temporal.address,
        namespace=f"missing-{uuid.uuid4().hex[:6]}",
        data_converter=pydantic_data_converter,
    )
    with pytest.raises(Unavailable):
        await GantralCore(nowhere, settings, InMemoryRegistry()).record_admin_action(
            ADMIN, "keep_workflow_version_active", {}
        )
    # The refused attempts left nothing pending: the log still records and verifies.
    await core.record_admin_action(ADMIN, "keep_workflow_version_active", {"after": True})
    await _verified(reader, await _segment(temporal))

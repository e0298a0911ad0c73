"""An instance whose workers are all down answers no Query (Temporal holds one about 30 s
before saying no poller was seen): the inbox leaves such a request out of the page after a
few seconds and lists the rest, instead of every approver of the team waiting on it; the
instance's own reads answer a typed 503 after 10 s."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import httpx
import pytest
from temporalio.client import Client

from gantral.channels.inbox import QUERY_TIMEOUT
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.workers.worker import build_worker
from tests.helpers.auth import AUDITOR, bearer
from tests.helpers.inbox_pages import every_page
from tests.helpers.publishing import publish_one_step
from tests.helpers.serving import api_client
from tests.helpers.waiting import approval_policy, open_request

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def stored(api: httpx.AsyncClient, iid: str) -> None:
    """Until the sink stored the request (the read model is written in the same commit)."""
    for _ in range(200):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200 and "HUMAN_REQUESTED" in {
            e["type"] for e in resp.json()["events"]
        }:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{iid}'s request was never stored")


async def test_a_request_whose_worker_is_down_does_not_hold_up_the_inbox(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal: Client,
    audit_config: AuditSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tag = uuid.uuid4().hex[:8]
    team = f"unanswered-{tag}"
    agent = bearer(f"agent-{tag}", teams=[team], agent=True)
    lead = bearer(f"lead-{tag}", ["TECH_LEAD", "approver"], teams=[team])
    wid = f"unanswered-{tag}"
    await publish_one_step(api, wid, approval_policy("LOW", None))
    # Instances on a task queue of their own, stored by the session's sink.
    own = settings.model_copy(
        update={"temporal": settings.temporal.model_copy(update={"task_queue": f"gone-{tag}"})}
    )
    async with build_worker(temporal, own), api_client(own, temporal, audit_config) as there:
        orphan = await open_request(there, wid, team, agent)
        await stored(api, orphan)
    # Its worker is gone; another request of the team is answered as usual.
    served = await open_request(api, wid, team, agent)
    await stored(api, served)

    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="gantral.channels.inbox"):
        items, _ = await every_page(api, lead, 50, pending_for="me")
    took = time.monotonic() - began
    listed = {i["instance_id"] for i in items}
    assert served in listed and orphan not in listed
    # Temporal alone would have held the read about 30 s.
    assert took < QUERY_TIMEOUT.total_seconds() + 10, took
    # Named in the log, so an operator finds the task queue nobody serves.
    assert any(orphan in r.getMessage() and "did not answer" in r.getMessage()
               for r in caplog.records)  # fmt: skip

    # The instance itself: a typed 503 naming the likely cause, not Temporal's 30 s hold.
    began = time.monotonic()
    resp = await api.get(f"/v1/instances/{orphan}", headers=lead)
    assert resp.status_code == 503, resp.text
    refused = resp.json()
    assert refused["reason"] == "temporal_timeout" and "worker" in refused["message"], refused
    assert time.monotonic() - began < 25

    # Not left running on a queue nobody serves: its worker back, it is cancelled.
    async with build_worker(temporal, own):
        handle = temporal.get_workflow_handle(orphan)
        await handle.cancel()
        for _ in range(300):
            if (await handle.describe()).status.name != "RUNNING":  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.1)

"""An agent long-polling its request while a human decides: the API process that relays
the decision wakes the waiting poll, here or on another replica (LISTEN/NOTIFY), which then
sees the grant at once instead of after its backed-off pause."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from temporalio.client import Client

import gantral.core
from gantral.api.routers.instances import MAX_HOLD_SECONDS
from gantral.settings import AuditSettings, Settings
from tests.helpers.auth import AGENT, LEAD
from tests.helpers.lifecycle import authorize, decide, start
from tests.helpers.serving import api_replica, asgi_client

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_a_relayed_decision_wakes_the_waiting_long_poll(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pauses far beyond the wait: only the wake-up can make the poll see the outcome.
    monkeypatch.setattr(gantral.core, "_FIRST_POLL_SECONDS", 120.0)
    monkeypatch.setattr(gantral.core, "_WAIT_POLL_SECONDS", 120.0)
    monkeypatch.setattr(gantral.core, "_LISTENING_POLL_SECONDS", 120.0)
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    url = f"/v1/instances/{iid}/requests/{rid}?wait=15"  # held at most MAX_HOLD_SECONDS
    asked_at = time.monotonic()
    poll = asyncio.create_task(api.get(url, headers=AGENT))
    await asyncio.sleep(0.5)  # the poll has read the request once and is pausing
    assert not poll.done()
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    outcome = await poll
    # Not a speed target: without the wake-up the poll answers only when its hold ends.
    assert time.monotonic() - asked_at < MAX_HOLD_SECONDS - 1.0
    assert outcome.status_code == 200, outcome.text
    assert outcome.json()["status"] == "APPROVED"
    assert outcome.json()["grant"] is not None


async def test_a_long_poll_is_held_at_most_the_cap_whatever_wait_asks(
    api: httpx.AsyncClient,
) -> None:
    # Below a generated client's default timeout (10 s): a larger `wait` is capped, not
    # refused, and a request still PENDING is answered as it stands.
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    asked_at = time.monotonic()
    outcome = await api.get(f"/v1/instances/{iid}/requests/{rid}?wait=60", headers=AGENT)
    held = time.monotonic() - asked_at
    assert outcome.status_code == 200, outcome.text
    assert outcome.json()["status"] == "PENDING"
    assert MAX_HOLD_SECONDS - 0.5 <= held < 10.0


@pytest_asyncio.fixture(loop_scope="session")
async def replica(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A second API replica of the same deployment (its own process state, same databases)."""
    async with (
        api_replica(settings, temporal, audit_config) as app,
        asgi_client(app, "http://replica") as client,
    ):
        yield app, client


async def test_a_decision_relayed_by_another_replica_wakes_the_long_poll(
    api: httpx.AsyncClient,
    replica: tuple[FastAPI, httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, other = replica
    for _ in range(100):  # its listener connects in the background of its start-up
        if app.state.core.wakeups.listening:
            break
        await asyncio.sleep(0.05)
    assert app.state.core.wakeups.listening
    monkeypatch.setattr(gantral.core, "_FIRST_POLL_SECONDS", 120.0)
    monkeypatch.setattr(gantral.core, "_LISTENING_POLL_SECONDS", 120.0)
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    asked_at = time.monotonic()
    poll = asyncio.create_task(
        other.get(f"/v1/instances/{iid}/requests/{rid}?wait=15", headers=AGENT)
    )
    await asyncio.sleep(0.5)
    assert not poll.done()
    # Decided through the first replica; the poll is held by the second.
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    outcome = await poll
    assert time.monotonic() - asked_at < MAX_HOLD_SECONDS - 1.0
    assert outcome.status_code == 200, outcome.text
    assert outcome.json()["status"] == "APPROVED" and outcome.json()["grant"] is not None

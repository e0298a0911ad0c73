"""An agent long-polling its request while a human decides: the API process that relays
the decision hands the request, once stored, to the waiting poll, and wakes the polls on
other replicas (LISTEN/NOTIFY), which then see the grant at once instead of after their
backed-off pause."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

import gantral.core
from gantral.api.routers.instances import MAX_HOLD_SECONDS
from gantral.settings import AuditSettings, Settings
from tests.helpers.auth import AGENT, LEAD
from tests.helpers.governance import start_step
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


async def test_the_relaying_process_hands_the_stored_decision_to_its_long_poll(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every pause far beyond the wait, the one after a wake too: only the request handed
    # over by the decision's relay (the instance's `settled` Update) can answer the poll.
    for pause in ("_FIRST_POLL_SECONDS", "_WAIT_POLL_SECONDS", "_LISTENING_POLL_SECONDS",
                  "_DECIDED_POLL_SECONDS"):  # fmt: skip
        monkeypatch.setattr(gantral.core, pause, 120.0)
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    polling: contextvars.ContextVar[bool] = contextvars.ContextVar("polling", default=False)

    async def long_poll() -> httpx.Response:
        polling.set(True)  # seen by every task the in-process app starts for this call
        return await api.get(f"/v1/instances/{iid}/requests/{rid}?wait=15", headers=AGENT)

    poll = asyncio.create_task(long_poll())
    await asyncio.sleep(0.5)
    assert not poll.done()
    # Every Query the poll sends from here on.
    queries: list[str] = []
    real_query = WorkflowHandle.query

    def counted(handle: WorkflowHandle[Any, Any], query: Any, *args: Any, **kw: Any) -> Any:
        if polling.get():
            queries.append(str(getattr(query, "__name__", query)))
        return real_query(handle, query, *args, **kw)

    monkeypatch.setattr(WorkflowHandle, "query", counted)
    decided_at = time.monotonic()
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    outcome = await poll
    assert time.monotonic() - decided_at < MAX_HOLD_SECONDS - 1.0
    assert queries == []  # handed over, not polled for
    assert outcome.status_code == 200, outcome.text
    body = outcome.json()
    assert body["status"] == "APPROVED" and body["resolved_at"] is not None
    # Handed over only once usable: the grant is there, and the agent can start with it.
    grant = body["grant"]
    assert grant is not None
    started = await start_step(api, iid, grant["grant_id"], grant["args_digest"], "deploy")
    assert started.is_success, started.text


async def test_without_the_handover_the_woken_long_poll_polls_the_instance(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The relay gives up waiting for the decision to be stored (as with a worker of an
    # earlier release, or the sink down): the poll is only woken, and finds the outcome
    # by polling quickly.
    monkeypatch.setattr(gantral.core, "_SETTLED_WAIT_SECONDS", 0.0)
    for pause in ("_FIRST_POLL_SECONDS", "_WAIT_POLL_SECONDS", "_LISTENING_POLL_SECONDS"):
        monkeypatch.setattr(gantral.core, pause, 120.0)
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    poll = asyncio.create_task(
        api.get(f"/v1/instances/{iid}/requests/{rid}?wait=15", headers=AGENT)
    )
    await asyncio.sleep(0.5)
    decided_at = time.monotonic()
    assert (await decide(api, iid, rid, "APPROVE", LEAD)).status_code == 200
    outcome = await poll
    assert time.monotonic() - decided_at < MAX_HOLD_SECONDS - 1.0
    assert outcome.json()["status"] == "APPROVED" and outcome.json()["grant"] is not None


async def test_a_retried_decision_waits_on_the_same_settled_update(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    # While the sink is slow or down, each relay's Update stays in flight in the instance
    # (which takes only so many); retries of one decision share one.
    iid = (await start(api))["instance_id"]
    rid = (await authorize(api, iid))["request"]["request_id"]
    key = f"once-{iid}"
    first = await decide(api, iid, rid, "APPROVE", LEAD, key=key)
    again = await decide(api, iid, rid, "APPROVE", LEAD, key=key)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["decision"] == first.json()["decision"]

    async def settled_updates() -> int:
        events = [e async for e in temporal.get_workflow_handle(iid).fetch_history_events()]
        return sum(
            1 for e in events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
            and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            == "settled"
        )  # fmt: skip

    async with asyncio.timeout(10):
        while await settled_updates() < 1:
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # the second relay has had its answer
    assert await settled_updates() == 1


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

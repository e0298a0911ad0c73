"""An agent long-polling its request while a human decides: the API process that relays
the decision wakes the waiting poll, which then sees the grant as soon as the sink has
stored the decision, instead of after its backed-off pause."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

import gantral.core
from gantral.api.routers.instances import MAX_HOLD_SECONDS
from tests.helpers.auth import AGENT, LEAD
from tests.helpers.lifecycle import authorize, decide, start

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_a_relayed_decision_wakes_the_waiting_long_poll(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pauses far beyond the wait: only the wake-up can make the poll see the outcome.
    monkeypatch.setattr(gantral.core, "_FIRST_POLL_SECONDS", 120.0)
    monkeypatch.setattr(gantral.core, "_WAIT_POLL_SECONDS", 120.0)
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

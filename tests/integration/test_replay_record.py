"""Records the replay corpus (tests/replay/histories) from the integration scenarios.

Skipped unless GANTRAL_RECORD_REPLAY=1: run `python -m tests.replay.record`. Each scenario
drives a real instance through the API to its end, waits until its workflow has closed
and its audit log is sealed, then saves every run of its history with its audit rows.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from gantral.audit.history_codec import fetch_runs
from gantral.audit.rows import EventRow
from gantral.settings import Settings
from tests.helpers.auth import AUDITOR
from tests.helpers.break_glass import glass_api
from tests.helpers.lifecycle import sealed_audit
from tests.helpers.replay_scenarios import DRIVERS, break_glass, continue_as_new
from tests.replay.corpus import SCENARIOS, save
from tests.replay.record import RECORD_ENV

__all__ = ["glass_api"]  # a replica that configures break-glass

pytestmark = [
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not os.environ.get(RECORD_ENV), reason="records only when asked"),
]


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_record(
    scenario: str,
    api: httpx.AsyncClient,
    glass_api: httpx.AsyncClient,
    temporal: Client,
    settings: Settings,
) -> None:
    if scenario == "continue-as-new":
        iid = await continue_as_new(api, temporal, settings)
    elif scenario == "break-glass":
        iid = await break_glass(api, glass_api)
    else:
        iid = await DRIVERS[scenario](api)
    await sealed_audit(api, iid)
    await asyncio.wait_for(temporal.get_workflow_handle(iid).result(), timeout=30)
    audit = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()
    rows = [_row(iid, e) for e in audit["events"]]
    runs = await fetch_runs(temporal, iid)
    assert scenario != "continue-as-new" or len(runs) >= 3, len(runs)
    save(scenario, iid, runs, rows)


def _row(iid: str, event: dict[str, Any]) -> EventRow:
    ref = event["snapshot"] or {}
    return EventRow(
        event["log_index"], iid, event["seq"], event["type"], event["body"].encode(),
        bytes.fromhex(event["prev_hash"]), bytes.fromhex(event["hash"]),
        ref.get("key"), ref.get("sha256"),
    )  # fmt: skip

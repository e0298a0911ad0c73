"""Records the replay corpus (tests/replay/histories) from the integration scenarios.

Skipped unless GANTRAL_RECORD_REPLAY=1: run `python -m tests.replay.record`. Each scenario
drives a real instance through the API to its end, waits until its workflow has closed
and its audit log is sealed, then saves every run of its history with its audit rows.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from gantral.audit.rows import EventRow
from gantral.replay.history import fetch_runs
from tests.integration import test_governance as gov
from tests.integration.auth import AGENT, AUDITOR, LEAD, SECURITY
from tests.integration.test_instance_lifecycle import authorize, decide, sealed_audit, start
from tests.replay.corpus import SCENARIOS, save
from tests.replay.record import RECORD_ENV

pytestmark = [
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not os.environ.get(RECORD_ENV), reason="records only when asked"),
]

Scenario = Callable[[httpx.AsyncClient], Awaitable[str]]


async def _ok(resp: Awaitable[httpx.Response]) -> dict[str, Any]:
    done = await resp
    assert done.status_code == 200, done.text
    return dict(done.json())


async def approve(api: httpx.AsyncClient) -> str:
    """Plan allowed, deploy approved, the grant used, completion and cost reported."""
    iid = str((await start(api))["instance_id"])
    await authorize(api, iid, step="plan", args={})
    pending = await authorize(api, iid)
    rid = pending["request"]["request_id"]
    await _ok(decide(api, iid, rid, "APPROVE", LEAD))
    grant = (await gov.outcome(api, iid, rid))["grant"]
    for body in (
        {"kind": "STEP_STARTED", "step_id": "deploy", "grant_id": grant["grant_id"],
         "args_digest": pending["args_digest"]},
        {"kind": "STEP_COMPLETED", "step_id": "deploy"},
        {"kind": "COST", "cost": {"tokens": 1200, "money": 0.42, "wall_time_seconds": 3.5}},
    ):  # fmt: skip
        await _ok(api.post(f"/v1/instances/{iid}/events", json=body, headers=AGENT))
    await _ok(api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT))
    return iid


async def reject(api: httpx.AsyncClient) -> str:
    iid = str((await start(api))["instance_id"])
    rid = (await authorize(api, iid))["request"]["request_id"]
    await _ok(decide(api, iid, rid, "REJECT", LEAD, justification="not during the freeze"))
    return iid


async def override_recheck(api: httpx.AsyncClient) -> str:
    """An override that raises materiality goes to the higher approvers first."""
    pid = gov.uid("pol")
    await gov.put(api, f"/v1/policies/{pid}", gov_policy())
    iid = await gov.start(api, await gov.workflow_with(api, pid))
    rid = (await gov.authorize(api, iid, {"amount": 500}))["request"]["request_id"]
    edit = {"justification": "pay the full invoice", "context_delta": {"amount": 50000}}
    await _ok(decide(api, iid, rid, "OVERRIDE", gov.LEAD_SUPERVISOR, **edit))
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    follow_up = view["pending_request"]["request_id"]
    await _ok(decide(api, iid, follow_up, "APPROVE", gov.CFO))
    await gov.outcome(api, iid, follow_up)
    await _ok(api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT))
    return iid


def gov_policy() -> str:
    return """
materiality: MEDIUM
requires_human_approval: true
approvers: [{role: TECH_LEAD}]
override_roles: [TECH_LEAD]
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 10000}]}
by_materiality:
  HIGH: {approvers: [{role: CFO}]}
"""


async def quorum(api: httpx.AsyncClient) -> str:
    iid = str((await start(api, workflow="quorum"))["instance_id"])
    pending = await authorize(api, iid, step="transfer", args={"amount": 5000})
    rid = pending["request"]["request_id"]
    await _ok(decide(api, iid, rid, "APPROVE", LEAD))
    await _ok(decide(api, iid, rid, "APPROVE", SECURITY))
    await gov.outcome(api, iid, rid)
    await _ok(api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT))
    return iid


async def escalation_expiry(api: httpx.AsyncClient) -> str:
    iid = str((await start(api, workflow="fast-timeout"))["instance_id"])
    rid = (await authorize(api, iid, step="release"))["request"]["request_id"]
    assert (await gov.outcome(api, iid, rid, wait=15))["status"] == "EXPIRED"
    return iid


async def cancel(api: httpx.AsyncClient) -> str:
    iid = str((await start(api))["instance_id"])
    await authorize(api, iid)
    await _ok(api.post(f"/v1/instances/{iid}/cancel", json={"reason": "superseded"},
                       headers=AGENT))  # fmt: skip
    return iid


DRIVERS: dict[str, Scenario] = {
    "approve": approve,
    "reject": reject,
    "override-recheck": override_recheck,
    "quorum": quorum,
    "escalation-expiry": escalation_expiry,
    "cancel": cancel,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_record(scenario: str, api: httpx.AsyncClient, temporal: Client) -> None:
    iid = await DRIVERS[scenario](api)
    await sealed_audit(api, iid)
    await asyncio.wait_for(temporal.get_workflow_handle(iid).result(), timeout=30)
    audit = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()
    rows = [_row(iid, e) for e in audit["events"]]
    save(scenario, iid, await fetch_runs(temporal, iid), rows)


def _row(iid: str, event: dict[str, Any]) -> EventRow:
    ref = event["snapshot"] or {}
    return EventRow(
        event["log_index"], iid, event["seq"], event["type"], event["body"].encode(),
        bytes.fromhex(event["prev_hash"]), bytes.fromhex(event["hash"]),
        ref.get("key"), ref.get("sha256"),
    )  # fmt: skip

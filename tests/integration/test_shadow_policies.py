"""Shadow policies on the real stack: the enforced policy decides, the shadow's outcome is
an audit event, and the shadow report counts where it would have decided otherwise."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from gantral.cli import app
from gantral.replay.shadow_report import ShadowReport
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers import governance as gov
from tests.helpers.auth import AGENT, AUDITOR, bearer
from tests.helpers.replay_cli import cli_env
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ENFORCED = "materiality: LOW\n"
# Over 100 is HIGH and needs a tech lead.
SHADOW = """
materiality: LOW
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 100}]}
by_materiality:
  HIGH: {approvers: [{role: TECH_LEAD}], timeouts: {primary: 1h}}
"""


async def _workflow(api: httpx.AsyncClient, enforced: str, shadow: str) -> str:
    wid = gov.uid("wf")
    await gov.put(
        api,
        f"/v1/workflows/{wid}",
        f"id: {wid}\nsteps:\n  - id: act\n    policy_ref: {{id: {enforced}}}\n"
        f"    shadow: {shadow}\n",
    )
    return wid


async def _events(api: httpx.AsyncClient, iid: str, kind: str) -> list[dict[str, Any]]:
    trail = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
    assert trail.status_code == 200, trail.text
    return [e["payload"] for e in trail.json()["events"] if e["type"] == kind]


async def _report(api: httpx.AsyncClient, pid: str, **params: str) -> httpx.Response:
    window = {"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()} | params
    return await api.get(f"/v1/policies/{pid}/shadow-report", params=window, headers=AUDITOR)


async def test_a_stricter_shadow_is_recorded_and_reported_never_enforced(
    api: httpx.AsyncClient, stack: Stack, settings: Settings, audit_config: AuditSettings
) -> None:
    enforced, shadow = gov.uid("pol"), gov.uid("shadow")
    await gov.put(api, f"/v1/policies/{enforced}", ENFORCED)
    await gov.put(api, f"/v1/policies/{shadow}", SHADOW)
    iid = await gov.start(api, await _workflow(api, enforced, f"{{id: {shadow}}}"))

    allowed = await gov.authorize(api, iid, {"amount": 500})
    assert allowed["outcome"] == "ALLOW", allowed
    started = await gov.start_step(api, iid, allowed["grant"]["grant_id"], allowed["args_digest"])
    assert started.status_code == 200, started.text
    [event] = await _events(api, iid, "SHADOW_EVALUATED")
    assert (event["enforced_outcome"], event["outcome"]) == ("ALLOW", "PENDING")
    assert (event["materiality"], event["approvers"]) == ("HIGH", ["TECH_LEAD"])
    assert (event["policy_id"], event["policy_version"]) == (shadow, 1)
    assert event["args_digest"] == allowed["args_digest"]

    resp = await _report(api, shadow)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["decision_points"], report["evaluated"], report["changed"]) == (1, 1, 1)
    assert report["flips"] == {"ALLOW->PENDING": 1, "PENDING->ALLOW": 0}
    assert report["materiality_changes"] == {"LOW->HIGH": 1}
    assert [(c["instance_id"], c["kind"]) for c in report["examples"]] == [
        (iid, "outcome"), (iid, "materiality")
    ]  # fmt: skip
    # The enforced policy was never a shadow; a window before the decision holds none.
    assert (await _report(api, enforced)).json()["decision_points"] == 0
    past = datetime.now(UTC) - timedelta(days=2)
    old = await _report(api, shadow, since=past.isoformat(),
                        until=(past + timedelta(hours=1)).isoformat())  # fmt: skip
    assert old.json()["decision_points"] == 0, old.text

    # The same report from the operator's command line.
    argv = ["policy", "shadow-report", shadow, "--since", "1h", "--dsn", stack.postgres_uri,
            "--schema", audit_config.schema_name]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=cli_env(stack, settings))
    assert result.exit_code == 0, result.output
    assert ShadowReport.model_validate_json(result.stdout).flips["ALLOW->PENDING"] == 1
    assert "1 would change" in result.stderr

    # Deterministic: a replay of the instance against today's code reproduces its shadow
    # event, like every other.
    done = {"kind": "STEP_COMPLETED", "step_id": "act"}
    assert (await api.post(f"/v1/instances/{iid}/events", json=done, headers=AGENT)).is_success
    assert (await api.post(f"/v1/instances/{iid}/complete", json={}, headers=AGENT)).is_success
    replay = await api.post(f"/v1/replay/{iid}", headers=AUDITOR)
    assert replay.status_code == 200, replay.text
    assert replay.json()["match"] is True, replay.json()["first_divergence"]


async def test_a_shadow_that_fails_is_recorded_as_its_error_and_enforcement_holds(
    api: httpx.AsyncClient,
) -> None:
    enforced, shadow = gov.uid("pol"), gov.uid("shadow")
    await gov.put(api, f"/v1/policies/{enforced}", ENFORCED)
    await gov.put(api, f"/v1/policies/{shadow}", SHADOW)
    # Version 9 does not exist: the instance starts all the same, its shadow an error.
    iid = await gov.start(api, await _workflow(api, enforced, f"{{id: {shadow}, version: 9}}"))
    allowed = await gov.authorize(api, iid, {"amount": 500})
    assert allowed["outcome"] == "ALLOW", allowed
    [event] = await _events(api, iid, "SHADOW_EVALUATED")
    assert "outcome" not in event and "unknown_version" in event["error"], event
    report = (await _report(api, shadow)).json()
    assert (report["decision_points"], report["errors"], report["changed"]) == (1, 1, 0)
    assert [e["instance_id"] for e in report["error_examples"]] == [iid]


async def test_an_instance_without_a_shadow_records_none(api: httpx.AsyncClient) -> None:
    pid = gov.uid("pol")
    await gov.put(api, f"/v1/policies/{pid}", ENFORCED)
    iid = await gov.start(api, await gov.workflow_with(api, pid))
    assert (await gov.authorize(api, iid, {"amount": 500}))["outcome"] == "ALLOW"
    assert await _events(api, iid, "POLICY_EVALUATED")
    assert await _events(api, iid, "SHADOW_EVALUATED") == []
    started = await _events(api, iid, "INSTANCE_STARTED")
    assert "shadow_policies" not in started[0]


async def test_the_shadow_report_needs_read_rights_and_a_bounded_window(
    api: httpx.AsyncClient,
) -> None:
    path = f"/v1/policies/{gov.uid('shadow')}/shadow-report"
    refused = await api.get(path, headers=bearer("carl", ["CFO", "approver"]))
    assert refused.status_code == 403, refused.text
    now = datetime.now(UTC)
    for since, until, reason in [
        (now - timedelta(days=40), now, "window_too_large"),
        (now, now - timedelta(hours=1), "invalid_window"),
    ]:
        bad = await api.get(path, params={"since": since.isoformat(), "until": until.isoformat()},
                            headers=AUDITOR)  # fmt: skip
        assert (bad.status_code, bad.json()["reason"]) == (409, reason), bad.text
    for garbled in ("yesterday", "0.5", "2026-12-01T00:00:00"):  # RFC 3339 with an offset only
        bad = await api.get(path, params={"since": garbled}, headers=AUDITOR)
        assert bad.status_code == 422, bad.text


# Once two refunds were allowed in this instance, the next needs a tech lead.
COUNTED = """
materiality: LOW
materiality_rules:
  - {name: repeated, level: HIGH, when: [{field: history.act.ALLOW.count, op: ge, value: 2}]}
by_materiality:
  HIGH: {approvers: [{role: TECH_LEAD}], timeouts: {primary: 1h}}
"""


async def test_a_history_aware_rule_counts_the_instances_own_allowed_steps(
    api: httpx.AsyncClient,
) -> None:
    pid = gov.uid("pol")
    await gov.put(api, f"/v1/policies/{pid}", COUNTED)
    iid = await gov.start(api, await gov.workflow_with(api, pid))
    for _ in range(2):
        allowed = await gov.authorize(api, iid, {"amount": 5})
        assert allowed["outcome"] == "ALLOW", allowed
        grant = allowed["grant"]["grant_id"]
        started = await gov.start_step(api, iid, grant, allowed["args_digest"])
        assert started.status_code == 200, started.text
        done = {"kind": "STEP_COMPLETED", "step_id": "act"}
        assert (await api.post(f"/v1/instances/{iid}/events", json=done, headers=AGENT)).is_success
    third = await gov.authorize(api, iid, {"amount": 5})
    assert third["outcome"] == "PENDING" and third["materiality"] == "HIGH", third
    assert "rule repeated" in third["explanation"][0]
    # Another instance starts from nothing.
    other = await gov.start(api, await gov.workflow_with(api, pid))
    assert (await gov.authorize(api, other, {"amount": 5}))["outcome"] == "ALLOW"
    # The counts live in the workflow's state: a replay decides the same.
    replay = await api.post(f"/v1/replay/{iid}", headers=AUDITOR)
    assert replay.status_code == 200, replay.text
    assert replay.json()["match"] is True, replay.json()["first_divergence"]

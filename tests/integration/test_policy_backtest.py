"""Policy backtest on real recorded instances: a stricter candidate reports exactly the
decision points whose outcome would change, with counts and examples."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from gantral.audit.reader import AuditReader
from gantral.cli import app
from gantral.replay.backtest import BacktestReport
from gantral.replay.backtest_source import started_instances
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers import governance as gov
from tests.helpers.auth import AUDITOR, bearer
from tests.helpers.replay_cli import cli_env, dev_stack_dir
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# LOW is allowed; over 10,000 is HIGH and needs a tech lead within the hour.
RECORDED = """
materiality: LOW
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 10000}]}
by_materiality:
  HIGH: {approvers: [{role: TECH_LEAD}], timeouts: {primary: 1h}}
"""
# Stricter: HIGH from 1,000 on, and the CFO decides.
STRICTER = {
    "materiality": "LOW",
    "materiality_rules": [
        {"name": "large", "level": "HIGH",
         "when": [{"field": "arguments.amount", "op": "gt", "value": 1000}]},
    ],
    "by_materiality": {"HIGH": {"approvers": [{"role": "CFO"}], "timeouts": {"primary": "1h"}}},
}  # fmt: skip
# The recorded policy with a shorter deadline for the tech lead.
SOONER = {
    "materiality": "LOW",
    "materiality_rules": [
        {"name": "large", "level": "HIGH",
         "when": [{"field": "arguments.amount", "op": "gt", "value": 10000}]},
    ],
    "by_materiality": {
        "HIGH": {"approvers": [{"role": "TECH_LEAD"}], "timeouts": {"primary": "30m"}}
    },
}  # fmt: skip


async def _backtest(api: httpx.AsyncClient, pid: str, body: dict[str, Any]) -> httpx.Response:
    return await api.post(f"/v1/policies/{pid}:backtest", json=body, headers=AUDITOR)


async def test_a_stricter_policy_reports_exactly_the_decisions_that_change(
    api: httpx.AsyncClient, stack: Stack, audit_config: AuditSettings
) -> None:
    pid = gov.uid("pol")
    await gov.put(api, f"/v1/policies/{pid}", RECORDED)
    wid = await gov.workflow_with(api, pid)
    small, medium, large = [await gov.start(api, wid) for _ in range(3)]
    assert (await gov.authorize(api, small, {"amount": 500}))["outcome"] == "ALLOW"
    assert (await gov.authorize(api, medium, {"amount": 5000}))["outcome"] == "ALLOW"
    pending = await gov.authorize(api, large, {"amount": 50000})
    assert pending["outcome"] == "PENDING" and pending["request"]["required_approvers"] == [
        "TECH_LEAD"
    ]
    # Another workflow's instance on the same policy is not part of this backtest.
    await gov.authorize(api, await gov.start(api, await gov.workflow_with(api, pid)), {"amount": 5})

    resp = await _backtest(api, pid, {"workflow_id": wid, "since": "1h", "policy": STRICTER})
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["instances"], report["decision_points"], report["evaluated"]) == (3, 3, 3)
    assert (report["unrecoverable"], report["unchanged"], report["changed"]) == (0, 1, 2)
    assert report["counts"] == {"outcome": 1, "materiality": 1, "approvers": 1, "deadline": 0}
    changes = {(c["instance_id"], c["kind"]): (c["recorded"], c["candidate"])
               for c in report["examples"]}  # fmt: skip
    assert changes == {
        (medium, "outcome"): ("ALLOW", "PENDING"),
        (medium, "materiality"): ("LOW", "HIGH"),
        (large, "approvers"): (["TECH_LEAD"], ["CFO"]),
    }

    # The recorded policy itself changes nothing; a shorter deadline changes the one
    # request that needed a human.
    same = (await _backtest(api, pid, {"workflow_id": wid, "since": "1h"})).json()
    assert (same["evaluated"], same["changed"]) == (3, 0)
    deadline = (await _backtest(api, pid, {"workflow_id": wid, "policy": SOONER})).json()
    assert deadline["counts"]["deadline"] == 1 and deadline["changed"] == 1
    [example] = deadline["examples"]
    assert (example["instance_id"], example["recorded"], example["candidate"]) == (
        large,
        ["PT3600S"],
        ["PT1800S"],
    )
    # A caller who may audit only some teams backtests only their instances.
    reader = await AuditReader.open(stack.postgres_uri, config=audit_config)
    try:
        mine = await started_instances(reader.queries, wid, None, ["payments"])
        assert [iid for iid, _ in mine] == [small, medium, large]
        assert await started_instances(reader.queries, wid, None, ["risk"]) == []
    finally:
        await reader.close()


async def test_a_candidate_applies_only_where_its_policy_governs(
    api: httpx.AsyncClient,
) -> None:
    # One workflow, two steps, each governed by its own policy (same rules): a candidate
    # for the first must not be evaluated at the second's decisions.
    pay, refund = gov.uid("pol"), gov.uid("pol")
    for pid in (pay, refund):
        await gov.put(api, f"/v1/policies/{pid}", RECORDED)
    wid = gov.uid("wf")
    await gov.put(
        api,
        f"/v1/workflows/{wid}",
        f"id: {wid}\nsteps:\n  - id: pay\n    policy_ref: {{id: {pay}}}\n"
        f"  - id: refund\n    policy_ref: {{id: {refund}}}\n",
    )
    iid = await gov.start(api, wid)
    for step in ("pay", "refund"):
        assert (await gov.authorize(api, iid, {"amount": 5000}, step))["outcome"] == "ALLOW"

    report = (await _backtest(api, pay, {"workflow_id": wid, "policy": STRICTER})).json()
    assert (report["decision_points"], report["other_policies"]) == (1, 1), report
    assert (report["evaluated"], report["changed"]) == (1, 1)
    assert {(c["step_id"], c["kind"]) for c in report["examples"]} == {
        ("pay", "outcome"), ("pay", "materiality")
    }  # fmt: skip
    # Naming the step is the caller's choice: the candidate is tried there, whatever
    # governed it.
    named = await _backtest(api, pay, {"workflow_id": wid, "policy": STRICTER, "step_id": "refund"})
    assert [c["step_id"] for c in named.json()["examples"]] == ["refund", "refund"]


async def _audited_start(api: httpx.AsyncClient, wid: str, trigger: dict[str, Any]) -> str:
    body = {"workflow_id": wid, "owning_team_id": "payments", "trigger_context": trigger}
    resp = await api.post("/v1/instances", json=body, headers=gov.AGENT)
    assert resp.status_code == 201, resp.text
    iid = str(resp.json()["instance_id"])
    for _ in range(300):  # the sink writes INSTANCE_STARTED shortly after
        trail = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if trail.status_code == 200 and trail.json()["events"]:
            return iid
        await asyncio.sleep(0.1)
    raise AssertionError(f"{iid} was never audited")


async def test_an_instance_whose_trigger_holds_nul_breaks_no_backtest(
    api: httpx.AsyncClient,
) -> None:
    # U+0000 is valid JSON in a trigger context, but PostgreSQL's JSON types cannot hold
    # it: the scan of started instances used to cast every body, and answered 500.
    pid = gov.uid("pol")
    await gov.put(api, f"/v1/policies/{pid}", RECORDED)
    wid, other = await gov.workflow_with(api, pid), await gov.workflow_with(api, pid)
    plain = await _audited_start(api, wid, {})
    odd = await _audited_start(api, wid, {"note": "a\u0000b"})
    await _audited_start(api, other, {"note": "\u0000"})  # another workflow: not counted
    for iid in (plain, odd):
        assert (await gov.authorize(api, iid, {"amount": 500}))["outcome"] == "ALLOW"

    resp = await _backtest(api, pid, {"workflow_id": wid, "since": "1h", "policy": STRICTER})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["instances"], resp.json()["decision_points"]) == (2, 2), resp.text


async def test_backtest_needs_read_rights_and_valid_input(api: httpx.AsyncClient) -> None:
    pid = gov.uid("pol")
    await gov.put(api, f"/v1/policies/{pid}", RECORDED)
    body = {"workflow_id": "nothing-here", "since": "1h"}
    # An agent holds no audit:read; a plain approver neither.
    refused = await api.post(
        f"/v1/policies/{pid}:backtest", json=body, headers=bearer("carl", ["CFO", "approver"])
    )
    assert refused.status_code == 403, refused.text
    bad = await _backtest(api, pid, {**body, "since": "soon"})
    assert bad.status_code == 422, bad.text
    invalid = await _backtest(api, pid, {**body, "policy": {"materiality": "HUGE"}})
    assert invalid.status_code == 422, invalid.text
    unknown = await _backtest(api, gov.uid("nope"), body)
    assert unknown.status_code == 404, unknown.text
    empty = (await _backtest(api, pid, body)).json()
    assert (empty["instances"], empty["decision_points"]) == (0, 0)


async def test_policy_backtest_command(
    api: httpx.AsyncClient,
    stack: Stack,
    settings: Settings,
    audit_config: AuditSettings,
    tmp_path: Path,
) -> None:
    pid = gov.uid("pol")
    await gov.put(api, f"/v1/policies/{pid}", RECORDED)
    wid = await gov.workflow_with(api, pid)
    iid = await gov.start(api, wid)
    assert (await gov.authorize(api, iid, {"amount": 5000}))["outcome"] == "ALLOW"
    candidate = tmp_path / "stricter.json"
    candidate.write_text(json.dumps(STRICTER))
    env = cli_env(stack, settings)
    argv = ["policy", "backtest", str(candidate), "--workflow", wid, "--since", "1h",
            "--dsn", stack.postgres_uri, "--schema", audit_config.schema_name,
            "--bucket-prefix", audit_config.object_prefix]  # fmt: skip
    # Named after its file, the candidate stands in for no policy this workflow uses.
    result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)
    assert result.exit_code == 0, result.output
    report = BacktestReport.model_validate_json(result.stdout)
    assert (report.policy_id, report.evaluated, report.other_policies) == ("stricter", 0, 1)
    assert "1 at steps governed by a policy other than stricter skipped" in result.stderr
    argv += ["--policy-id", pid]
    result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)
    assert result.exit_code == 0, result.output
    report = BacktestReport.model_validate_json(result.stdout)
    assert report.policy_id == pid and report.evaluated == 1
    # Beside a `gantral dev` stack, no flag names where it is.
    local = [*argv[:7], "--schema", audit_config.schema_name, "--bucket-prefix",
             audit_config.object_prefix, "--policy-id", pid,
             "--data-dir", str(tmp_path)]  # fmt: skip
    found = await asyncio.to_thread(
        CliRunner().invoke, app, local, env=dev_stack_dir(stack, settings, tmp_path)
    )
    assert found.exit_code == 0, found.output
    assert BacktestReport.model_validate_json(found.stdout).evaluated == 1
    assert [(c.instance_id, c.kind) for c in report.examples] == [
        (iid, "outcome"), (iid, "materiality")
    ]  # fmt: skip
    assert "1 would change" in result.stderr
    bad = await asyncio.to_thread(
        CliRunner().invoke, app, [*argv[:5], "--since", "soon", *argv[7:]], env=env
    )
    assert bad.exit_code == 2 and "--since soon" in bad.output

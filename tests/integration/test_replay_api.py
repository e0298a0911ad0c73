"""`POST /v1/replay/{id}`: a real instance's history replayed against today's code, its
timeline rebuilt from the audit log alone, the two compared, the report signed."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from gantral.attestation import TrustAnchors
from gantral.audit.checkpoint import load_verification_keys
from gantral.cli import app
from gantral.replay.report import ReplayReport, verify_report
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.auth import AUDITOR, bearer
from tests.helpers.replay_cli import approved_and_completed, cli_env, dev_stack_dir
from tests.helpers.session import ATTESTATION_PUBLIC
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_replay_matches_history_and_audit_and_is_signed(api: httpx.AsyncClient) -> None:
    iid = await approved_and_completed(api)
    audit = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()

    resp = await api.post(f"/v1/replay/{iid}", headers=AUDITOR)
    assert resp.status_code == 200, resp.text
    report = ReplayReport.model_validate(resp.json())
    assert report.match is True, report.first_divergence
    assert report.replay.deterministic and report.nondeterminism == []
    assert report.history_source == "temporal" and len(report.run_ids) == 1
    assert report.replay.history_events > 20 and report.replay.events_per_second > 0
    # The timeline comes from the audit log alone.
    timeline = report.timeline
    assert [e.payload["to_state"] for e in timeline.transitions] == [
        "RUNNING", "WAITING_FOR_HUMAN", "APPROVED", "RESUMED", "RUNNING", "COMPLETED",
    ]  # fmt: skip
    assert [e.payload["decision_type"] for e in timeline.decisions] == ["APPROVE"]
    assert [e.type for e in timeline.requests] == ["HUMAN_REQUESTED"]
    assert {e.type for e in timeline.grants} >= {"GRANT_ISSUED"}
    assert (timeline.cost.tokens, timeline.cost.money) == (1200, 0.42)
    assert timeline.final_state == "COMPLETED" and timeline.sealed
    # Pinned versions and hashes, snapshot hashes, and the audit head it was built on.
    started = audit["events"][0]["payload"]
    assert report.pinned.template_hash == started["template_hash"]
    assert report.pinned.workflow_id == "deploy"
    assert {p.step_id for p in report.pinned.policies} == {"plan", "deploy"}
    assert all(p.content_hash.startswith("sha256:") for p in report.pinned.policies)
    requested = next(e for e in audit["events"] if e["type"] == "HUMAN_REQUESTED")
    assert [(s.seq, s.sha256) for s in report.snapshots] == [
        (requested["seq"], requested["snapshot"]["sha256"])
    ]
    assert report.audit.head == audit["head"] and report.audit.sealed
    assert report.audit.events == len(audit["events"])
    # Signed by the API's attestation key, under an operation of its own.
    anchors = TrustAnchors.of(load_verification_keys([ATTESTATION_PUBLIC]))
    assert verify_report(report, anchors) is None
    altered = report.model_copy(update={"match": False})
    assert verify_report(altered, anchors) == "replay_report has an invalid attestation signature"


async def test_replay_is_an_audit_read_and_can_be_downloaded(api: httpx.AsyncClient) -> None:
    iid = await approved_and_completed(api)
    # An approver of the team who is no auditor: audit:read is needed.
    refused = await api.post(f"/v1/replay/{iid}", headers=bearer("carl", ["CFO", "approver"]))
    assert refused.status_code == 403, refused.text
    missing = await api.post(f"/v1/replay/inst_{uuid.uuid4().hex}", headers=AUDITOR)
    assert missing.status_code == 404, missing.text
    download = await api.post(f"/v1/replay/{iid}?download=true", headers=AUDITOR)
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="replay-{iid}.json"'


async def test_replay_finds_the_local_dev_stack_as_audit_verify_does(
    api: httpx.AsyncClient,
    stack: Stack,
    settings: Settings,
    audit_config: AuditSettings,
    tmp_path: Path,
) -> None:
    iid = await approved_and_completed(api)
    env = dev_stack_dir(stack, settings, tmp_path / "data")
    argv = ["replay", iid, "--data-dir", str(tmp_path / "data"), "--schema",
            audit_config.schema_name, "--bucket-prefix", audit_config.object_prefix]  # fmt: skip
    found = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)
    assert found.exit_code == 0, found.output
    assert ReplayReport.model_validate_json(found.stdout).match
    # Without a stack there, what is missing is named.
    argv[3] = str(tmp_path / "elsewhere")
    lost = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)
    assert lost.exit_code == 2 and "GANTRAL_DATABASE__READER_URL" in lost.output


async def test_replay_command_prints_the_report_and_exits_by_verdict(
    api: httpx.AsyncClient, stack: Stack, settings: Settings, audit_config: AuditSettings
) -> None:
    iid = await approved_and_completed(api)
    env = cli_env(stack, settings)
    common = ["--dsn", stack.postgres_uri, "--schema", audit_config.schema_name,
              "--bucket-prefix", audit_config.object_prefix]  # fmt: skip

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["replay", *args, *common], env=env)

    ok = await asyncio.to_thread(run, iid)
    assert ok.exit_code == 0, ok.output
    report = ReplayReport.model_validate_json(ok.stdout)
    assert report.match and report.signature is None  # no API key here: unsigned
    assert report.timeline.final_state == "COMPLETED"
    unknown = await asyncio.to_thread(run, f"inst_{uuid.uuid4().hex}")
    assert unknown.exit_code == 2
    assert "no audit events" in unknown.stderr

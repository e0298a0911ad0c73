"""Replay after retention: the sink archives a sealed instance's history in the locked
bucket and records its hash in the log; once Temporal has deleted the history, replay
uses the archive; the offline verifier checks an archive file against the record."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from typer.testing import CliRunner

from gantral.audit.bundle_verify import verify_bundle, verify_history_archive
from gantral.audit.checkpoint import load_verification_keys
from gantral.audit.history_archive import history_chain_id
from gantral.audit.history_codec import decode_archive
from gantral.audit.objects import ObjectStore
from gantral.cli import app
from gantral.replay.report import ReplayReport
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.archive import archive_record, delete_history
from tests.helpers.audit_reads import exported_bundle
from tests.helpers.auth import AUDITOR
from tests.helpers.replay_cli import approved_and_completed
from tests.helpers.replay_scenarios import continue_as_new
from tests.helpers.session import AUDIT_PUBLIC

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_history_is_archived_and_replayed_after_temporal_drops_it(
    api: httpx.AsyncClient,
    temporal: Client,
    settings: Settings,
    audit_config: AuditSettings,
    tmp_path: Path,
) -> None:
    iid = await approved_and_completed(api)
    before = ReplayReport.model_validate(
        (await api.post(f"/v1/replay/{iid}", headers=AUDITOR)).json()
    )
    assert before.history_source == "temporal" and before.match

    record = await archive_record(api, iid)
    objects = ObjectStore.from_settings(settings.s3, prefix=audit_config.object_prefix)
    archive = await objects.get(str(record["object_key"]))
    assert archive is not None
    # The archive is what replay hashed from the server: the same history, every run.
    assert record["sha256"] == before.history_sha256
    assert record["run_ids"] == before.run_ids
    assert [r.run_id for r in decode_archive(archive, iid)] == before.run_ids
    audit = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()
    assert record["audit_head"] == audit["head"]
    chain = history_chain_id(iid)
    verdict = (await api.get(f"/v1/audit/instances/{chain}/verify", headers=AUDITOR)).json()
    assert verdict["ok"], verdict

    await delete_history(temporal, iid)
    resp = await api.post(f"/v1/replay/{iid}", headers=AUDITOR)
    assert resp.status_code == 200, resp.text
    after = ReplayReport.model_validate(resp.json())
    assert after.history_source == "archive"
    assert after.match, after.first_divergence
    assert after.history_sha256 == before.history_sha256
    assert after.timeline == before.timeline

    # Offline: the record chain's bundle verifies with the public key, and names the file.
    bundle = await exported_bundle(api, chain)
    assert verify_bundle(bundle, load_verification_keys([AUDIT_PUBLIC])) == []
    assert verify_history_archive(bundle, archive) == []
    altered = json.loads(archive)
    altered["runs"][0]["events"].pop()
    [problem] = verify_history_archive(bundle, json.dumps(altered).encode())
    assert problem.code == "history_archive_mismatch"

    # An auditor's own copy: the archive as the API serves it, both bundles, the public key.
    served = await api.get(f"/v1/replay/{iid}/history", headers=AUDITOR)
    assert served.status_code == 200 and served.content == archive
    instance_bundle = await exported_bundle(api, iid)
    files = {
        "archive": archive,
        "bundle": json.dumps(instance_bundle).encode(),
        "history-bundle": json.dumps(bundle).encode(),
        "pub": AUDIT_PUBLIC.encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    argv = ["replay", iid, "--archive", str(tmp_path / "archive"), "--bundle",
            str(tmp_path / "bundle"), "--history-bundle", str(tmp_path / "history-bundle"),
            "--public-key", str(tmp_path / "pub")]  # fmt: skip
    offline = await asyncio.to_thread(CliRunner().invoke, app, argv, env={})
    assert offline.exit_code == 0, offline.output
    report = ReplayReport.model_validate_json(offline.stdout)
    assert report.match and report.history_source == "archive"
    assert report.timeline == before.timeline
    (tmp_path / "archive").write_bytes(json.dumps(altered).encode())
    tampered = await asyncio.to_thread(CliRunner().invoke, app, argv, env={})
    assert tampered.exit_code == 1 and "history_archive_mismatch" in tampered.stderr


async def test_replay_without_history_or_archive_is_404(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    """An instance whose history is gone before it was archived (deleted while running)."""
    from tests.helpers.lifecycle import authorize, start

    iid = str((await start(api))["instance_id"])
    await authorize(api, iid)
    # Known to the audit log first (its trail read waits for the first batch).
    trail = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
    assert trail.status_code == 200, trail.text
    await delete_history(temporal, iid)
    resp = await api.post(f"/v1/replay/{iid}", headers=AUDITOR)
    assert resp.status_code == 404, resp.text
    assert resp.json()["reason"] == "history_not_found"
    # A known instance (it has an audit log) without an archive: a state, 409; an unknown
    # one is 404.
    none = await api.get(f"/v1/replay/{iid}/history", headers=AUDITOR)
    assert none.status_code == 409 and none.json()["reason"] == "history_not_archived"
    unknown = await api.get("/v1/replay/no-such-instance/history", headers=AUDITOR)
    assert unknown.status_code == 404, unknown.text


async def test_every_run_of_a_continued_instance_is_replayed_and_archived(
    api: httpx.AsyncClient, temporal: Client, settings: Settings
) -> None:
    iid = await continue_as_new(api, temporal, settings)
    record = await archive_record(api, iid)
    resp = await api.post(f"/v1/replay/{iid}", headers=AUDITOR)
    assert resp.status_code == 200, resp.text
    report = ReplayReport.model_validate(resp.json())
    assert report.match, report.first_divergence
    assert report.replay.runs >= 3 and report.run_ids == record["run_ids"]
    assert report.history_sha256 == record["sha256"]
    # One chain across the runs: the log's timeline is the whole instance.
    assert report.timeline.final_state == "COMPLETED" and report.timeline.cost.tokens == 30

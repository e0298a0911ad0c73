"""An instance execution closed around Gantral (terminated in Temporal) leaves a trace.

`temporal workflow terminate` on an instance waiting for a human stops its audit chain
unsealed, with no end event. The instance view says it is closed, the inbox says its
request can no longer be decided, the sink records the closed run in the access log, and
verification (API and `gantral audit verify`) reports the unsealed chain as a problem.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client
from typer.testing import CliRunner

from gantral.audit.checkpointer import Checkpointer
from gantral.audit.closure_detector import ClosureDetector
from gantral.audit.closures import CLOSED_CHAIN_PREFIX, closed_chain_id
from gantral.audit.db import Database, open_pool
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.audit.service import signing_key
from gantral.audit.sink import AuditSink
from gantral.audit.store import AuditWriter
from gantral.audit.testing import TEST_BUCKET
from gantral.cli import app
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.archive import delete_history
from tests.helpers.auth import AGENT, AUDITOR, LEAD
from tests.helpers.deciding import decide_as_shown
from tests.helpers.lifecycle import authorize, start
from tests.helpers.session import AUDIT_PUBLIC
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def _waiting(api: httpx.AsyncClient) -> tuple[str, str]:
    """An instance waiting for a human, its start and request stored in the audit log
    (its trail read waits for the first batch)."""
    iid = (await start(api))["instance_id"]
    pending = await authorize(api, iid)
    assert pending["outcome"] == "PENDING"
    trail = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
    assert trail.status_code == 200, trail.text
    return iid, pending["request"]["request_id"]


async def _record(api: httpx.AsyncClient, chain: str) -> list[dict[str, Any]]:
    """The sealed access-log record chain, once the sink's detector has written it."""
    for _ in range(150):
        resp = await api.get(f"/v1/audit/instances/{chain}", headers=AUDITOR)
        if resp.status_code == 200 and resp.json()["sealed"]:
            return list(resp.json()["events"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"no closure record {chain} was written")


async def _inbox(api: httpx.AsyncClient, iid: str) -> dict[str, Any]:
    """The approver's inbox, once visibility lists the instance as closed."""
    for _ in range(100):
        page = (await api.get("/v1/requests", headers=LEAD)).json()
        if any(c["instance_id"] == iid for c in page["closed_outside"]):
            return dict(page)
        await asyncio.sleep(0.1)
    raise AssertionError(f"the inbox never said that {iid} was closed")


def _cli_verify(stack: Stack, config: AuditSettings, *args: str) -> Any:
    env = {
        "GANTRAL_S3__ENDPOINT_URL": stack.s3_endpoint,
        "GANTRAL_S3__BUCKET": TEST_BUCKET,
        "GANTRAL_S3__ACCESS_KEY_ID": "gantral-test",
        "GANTRAL_S3__SECRET_ACCESS_KEY": "gantral-test-secret",
        "COLUMNS": "400",
    }
    argv = ["audit", "verify", "--dsn", stack.postgres_uri, "--schema", config.schema_name]
    argv += ["--bucket-prefix", config.object_prefix, "--public-key", AUDIT_PUBLIC, *args]
    return CliRunner().invoke(app, argv, env=env)


async def test_terminated_instance_is_shown_closed_recorded_and_fails_verification(
    api: httpx.AsyncClient,
    temporal: Client,
    stack: Stack,
    settings: Settings,
    audit_config: AuditSettings,
) -> None:
    iid, request_id = await _waiting(api)
    before = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert before["state"] == "WAITING_FOR_HUMAN" and before["closed_outside"] is None
    # Waiting for a human is not a problem: the open chain verifies.
    assert (await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)).json()["ok"]

    handle = temporal.get_workflow_handle(iid)
    await handle.terminate(reason="test: closed around Gantral")
    run_id = (await handle.describe()).run_id

    # The view says what happened instead of a stale WAITING_FOR_HUMAN.
    view = (await api.get(f"/v1/instances/{iid}", headers=AGENT)).json()
    assert view["state"] == "TERMINATED" and view["pending_request"] is None
    assert not view["runnable"]
    closed = view["closed_outside"]
    assert closed["status"] == "TERMINATED" and closed["run_id"] == run_id
    assert closed["last_state"] == "WAITING_FOR_HUMAN" and closed["closed_at"] is not None

    # Listed with what happened: the last state it recorded, and how it was closed.
    for _ in range(100):
        listed = (
            await api.get("/v1/instances?state=WAITING_FOR_HUMAN&page_size=500", headers=LEAD)
        ).json()
        [summary] = [i for i in listed["items"] if i["instance_id"] == iid]
        if summary["closed"]:
            break
        await asyncio.sleep(0.1)
    assert summary["closed"] and summary["closed_outside"] == "TERMINATED"

    # The inbox does not drop it silently.
    page = await _inbox(api, iid)
    assert iid not in [item["instance_id"] for item in page["items"]]
    [entry] = [c for c in page["closed_outside"] if c["instance_id"] == iid]
    assert entry["request_id"] == request_id and entry["status"] == "TERMINATED"
    assert "can no longer be decided" in entry["reason"]

    # The access log records the closed run: when and which, not who.
    chain = closed_chain_id(iid, run_id)
    [record, seal] = await _record(api, chain)
    assert record["type"] == "EXECUTION_CLOSED" and seal["type"] == "INSTANCE_SEALED"
    assert record["actor"]["kind"] == "system"
    payload = record["payload"]
    audit = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()
    assert not audit["sealed"]
    assert payload["instance_id"] == iid and payload["run_id"] == run_id
    assert payload["status"] == "TERMINATED" and payload["reason"] == "test: closed around Gantral"
    assert payload["closed_at"] and payload["detected_at"]
    assert payload["audit_seq"] == audit["events"][-1]["seq"]
    assert payload["audit_head"] == audit["head"]
    record_verdict = (await api.get(f"/v1/audit/instances/{chain}/verify", headers=AUDITOR)).json()
    assert record_verdict["ok"], record_verdict

    # Verification reports the unsealed chain of a closed execution, naming the record.
    verdict = (await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)).json()
    assert not verdict["ok"]
    [problem] = verdict["problems"]
    assert problem["code"] == "closed_unsealed" and chain in problem["message"]
    cli = await asyncio.to_thread(_cli_verify, stack, audit_config, iid)
    assert cli.exit_code == 1, cli.output
    assert "closed_unsealed" in cli.stderr and chain in cli.stderr

    # Idempotent across restarts: a fresh detector (empty memory) writes nothing again.
    pool = await open_pool(settings.database.url.get_secret_value(), audit_config.writer_role)
    try:
        db = Database(audit_config, pool=pool)
        queries, writer = AuditQueries(db), AuditWriter(db)
        objects = ObjectStore.from_settings(settings.s3, prefix=audit_config.object_prefix)
        key = signing_key(settings)
        checkpointer = Checkpointer(queries, writer, objects, key, audit_config.origin)
        sink = AuditSink(writer, queries, objects, checkpointer, [])
        assert await ClosureDetector(sink, temporal).detect() == []
        assert len(await queries.instance_events(chain)) == 2
        assert list(await queries.chains_with_prefix(f"{CLOSED_CHAIN_PREFIX}{iid}-")) == [chain]
    finally:
        await pool.close()


async def test_a_chain_unsealed_past_the_maximum_age_fails_verification(
    api: httpx.AsyncClient, stack: Stack, audit_config: AuditSettings
) -> None:
    iid, _ = await _waiting(api)
    ok = await asyncio.to_thread(_cli_verify, stack, audit_config, iid)
    assert ok.exit_code == 0, ok.output
    # About 0.09 s: this instance has been waiting for longer (the first verify took more).
    limit = ["--max-unsealed-days", "0.000001"]
    old = await asyncio.to_thread(_cli_verify, stack, audit_config, iid, *limit)
    assert old.exit_code == 1, old.output
    assert "unsealed_too_old" in old.stderr and iid in old.stderr


async def test_a_waiting_instance_whose_history_is_deleted_is_recorded_and_fails_verification(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid, _ = await _waiting(api)
    run_id = (await temporal.get_workflow_handle(iid).describe()).run_id
    await delete_history(temporal, iid)  # terminates the run, then drops its history

    assert (await api.get(f"/v1/instances/{iid}", headers=AGENT)).status_code == 404
    # Seen either while Temporal still listed the terminated run, or once it was gone.
    candidates = {closed_chain_id(iid, run_id): "TERMINATED", closed_chain_id(iid, None): None}
    for _ in range(150):
        found = {}
        for chain in candidates:
            resp = await api.get(f"/v1/audit/instances/{chain}", headers=AUDITOR)
            if resp.status_code == 200 and resp.json()["sealed"]:
                found[chain] = resp.json()["events"][0]["payload"]
        if found:
            break
        await asyncio.sleep(0.1)
    [(chain, payload)] = found.items()
    assert payload["instance_id"] == iid
    assert payload["status"] in ("TERMINATED", "HISTORY_LOST")
    if payload["status"] == "HISTORY_LOST":
        assert payload["run_id"] is None and payload["closed_at"] is None
    verdict = (await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)).json()
    assert [p["code"] for p in verdict["problems"]] == ["closed_unsealed"]


async def test_a_reset_is_recorded_and_reported_until_the_instance_is_sealed(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    iid, request_id = await _waiting(api)
    handle = temporal.get_workflow_handle(iid)
    # Reset to after the last audit batch was stored: a reset to before it makes the new
    # run write different events at stored seqs, which the sink refuses (its run fails).
    for _ in range(100):
        described = await handle.describe()
        view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
        audit = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()
        stored = len(audit.get("events", [])) == view["audit_events"]
        if stored and not described.raw_description.pending_activities:
            break
        await asyncio.sleep(0.1)
    old_run = described.run_id
    history = await handle.fetch_history()
    last_task = max(
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    await temporal.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=temporal.namespace,
            workflow_execution=WorkflowExecution(workflow_id=iid, run_id=old_run),
            reason="test: reset around Gantral",
            workflow_task_finish_event_id=last_task,
            request_id=uuid.uuid4().hex,
        )
    )
    # The reset's terminated run is recorded; the instance runs on in its new run.
    [record, _] = await _record(api, closed_chain_id(iid, old_run))
    assert record["payload"]["status"] == "TERMINATED"
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["state"] == "WAITING_FOR_HUMAN" and view["closed_outside"] is None
    verdict = (await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)).json()
    assert [p["code"] for p in verdict["problems"]] == ["closed_unsealed"]

    # Once it ends through Gantral and is sealed, the chain verifies again.
    decided = await decide_as_shown(api, iid, request_id, LEAD, "REJECT", justification="no")
    assert decided.status_code == 200, decided.text
    for _ in range(100):
        audit = (await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)).json()
        if audit["sealed"]:
            break
        await asyncio.sleep(0.1)
    verdict = (await api.get(f"/v1/audit/instances/{iid}/verify", headers=AUDITOR)).json()
    assert verdict["ok"], verdict

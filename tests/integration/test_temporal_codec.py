"""The payload codec on the real stack: with it on, what an agent and a human gave Gantral
(arguments, context, trigger context, a justification) is not in Temporal's history as
read by a client without the keys, while the API, the worker, the sink and replay work
end to end; keys rotate without stopping a running instance, histories written before
the codec was on still run, and a key that was dropped too early fails naming it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter

from gantral.audit.history_codec import decode_archive, fetch_runs
from gantral.audit.objects import ObjectStore
from gantral.core import connect_temporal
from gantral.replay.replayer import replay_runs
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.temporal_codec import ENCODING, KEY_ID, CodecError, CodecKeyUnknown
from gantral.workers.sink import run_sink
from gantral.workers.worker import build_worker
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.sandbox import SANDBOX_RUNNER
from tests.helpers.archive import archive_record
from tests.helpers.auth import AGENT, AUDITOR, LEAD, LEAD2
from tests.helpers.lifecycle import decide, sealed_audit
from tests.helpers.serving import api_client, serve

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

K1 = base64.b64encode(os.urandom(32)).decode()
K2 = os.urandom(32).hex()


def _markers() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        name: f"{name}-{tag}-recognisable"
        for name in ("trigger", "argument", "context", "justification")
    }


def codec_settings(base: Settings, suffix: str, codec: dict[str, Any]) -> Settings:
    """The session's settings on task queues of their own (the session's worker and sink
    run without the codec) with `codec` as `GANTRAL_TEMPORAL__CODEC` would give it."""
    temporal = base.temporal.model_validate(
        {
            **base.temporal.model_dump(exclude={"codec", "api_key"}),
            "task_queue": f"codec-{suffix}",
            "audit_task_queue": f"codec-audit-{suffix}",
            "codec": codec,
        }
    )
    return base.model_copy(update={"temporal": temporal})


@contextlib.asynccontextmanager
async def gantral(
    settings: Settings, audit: AuditSettings, *, hand_over: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """The instance worker, the audit sink and the API, each connected as its process
    connects (`connect_temporal`: the codec from the settings). Instances still running
    at the end are cancelled, unless `hand_over` (the next deployment on the same task
    queue carries them on)."""
    stop = asyncio.Event()
    sink = asyncio.create_task(run_sink(settings, stop, config=audit))
    try:
        client = await connect_temporal(settings)
        async with (
            build_worker(client, settings),
            api_client(settings, None, audit, base_url="http://g") as api,
        ):
            yield api
            if not hand_over:
                await _end_what_runs(client, settings.temporal.task_queue)
    finally:
        stop.set()
        await asyncio.wait_for(sink, timeout=30)


async def _end_what_runs(client: Client, task_queue: str) -> None:
    """Cancel the instances still running on `task_queue` while its worker runs: once it
    stops, nothing answers their queries (the session's inboxes would wait on them)."""
    query = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'"
    async for listed in client.list_workflows(query):
        handle = client.get_workflow_handle(listed.id)
        await handle.cancel()
        with contextlib.suppress(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), timeout=30)


async def _start_and_ask(api: httpx.AsyncClient, marks: dict[str, str]) -> tuple[str, str]:
    started = await api.post(
        "/v1/instances",
        json={
            "workflow_id": "deploy",
            "owning_team_id": "payments",
            "trigger_context": {"ticket": marks["trigger"]},
        },
        headers=AGENT,
    )
    assert started.status_code == 201, started.text
    iid = started.json()["instance_id"]
    asked = await api.post(
        f"/v1/instances/{iid}/steps/deploy/authorize",
        json={
            "action": "deploy.run",
            "arguments": {"service": marks["argument"]},
            "context": {"note": marks["context"]},
        },
        headers=AGENT,
    )
    assert asked.status_code == 200, asked.text
    return iid, asked.json()["request"]["request_id"]


async def _reject(api: httpx.AsyncClient, iid: str, rid: str, marks: dict[str, str]) -> None:
    decided = await decide(api, iid, rid, "REJECT", LEAD, justification=marks["justification"])
    assert decided.status_code == 200, decided.text
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["state"] == "TERMINATED", view


async def _listed_summary(api: httpx.AsyncClient, iid: str) -> str | None:
    """The instance's summary as the listing gives it, paging through every page (running
    instances are listed before ended ones, and the session has many)."""
    for _ in range(100):  # visibility follows the start within moments
        params = {"team": "payments", "page_size": "500"}
        while True:
            page = await api.get("/v1/instances", params=params, headers=LEAD)
            assert page.status_code == 200, page.text
            for item in page.json()["items"]:
                if item["instance_id"] == iid:
                    return str(item["summary"]) if item["summary"] is not None else None
            if not page.json()["next_page_token"]:
                break
            params["page_token"] = page.json()["next_page_token"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{iid} is not listed")


async def _raw_history(address: str, iid: str) -> tuple[bytes, list[dict[str, bytes]]]:
    """The history as any Temporal client without the keys reads it (the Web UI, tctl):
    its bytes, and the metadata of every workflow input, update argument and result."""
    plain = await Client.connect(address)
    history = await plain.get_workflow_handle(iid).fetch_history()
    raw = b"".join(e.SerializeToString() for e in history.events) + history.to_json().encode()
    metadata = []
    for event in history.events:
        started = event.workflow_execution_started_event_attributes
        accepted = event.workflow_execution_update_accepted_event_attributes
        scheduled = event.activity_task_scheduled_event_attributes
        for payload in [
            *started.input.payloads,
            *accepted.accepted_request.input.args.payloads,
            *scheduled.input.payloads,
        ]:
            metadata.append(dict(payload.metadata))
    return raw, metadata


def _absent(raw: bytes, marks: dict[str, str]) -> None:
    for name, mark in marks.items():
        assert mark.encode() not in raw, f"the {name} is plaintext in Temporal's history"


async def test_history_holds_ciphertext_and_the_api_works_end_to_end(
    settings: Settings, audit_config: AuditSettings, temporal: Client
) -> None:
    suffix = uuid.uuid4().hex[:8]
    on = codec_settings(settings, suffix, {"enabled": True, "keys": {"k1": K1}})
    marks = _markers()
    async with gantral(on, audit_config) as api:
        iid, rid = await _start_and_ask(api, marks)
        pending = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
        # The API reads back what it was given (decoded by its own client).
        assert pending["pending_request"]["arguments"] == {"service": marks["argument"]}
        await _reject(api, iid, rid, marks)
        # Listing reads each instance's memo (encrypted too) through the codec.
        summary = await _listed_summary(api, iid)
        assert summary is not None and summary.startswith("deploy v1"), summary
        # The sink decoded every batch: the audit log holds what was given, and seals.
        events = await sealed_audit(api, iid)
        stored = str(events)
        assert marks["justification"] in stored and marks["trigger"] in stored
        # Replay (`gantral replay`, POST /v1/replay): the history decoded with the keys.
        replayed = await api.post(f"/v1/replay/{iid}", headers=AUDITOR)
        assert replayed.status_code == 200, replayed.text
        report = replayed.json()
        assert report["match"] is True, report.get("first_divergence")
        assert report["replay"]["deterministic"] is True
        # The sink's history archive is decoded, like the audit log: it replays offline
        # after the codec keys are retired.
        record = await archive_record(api, iid)
        objects = ObjectStore.from_settings(on.s3, prefix=audit_config.object_prefix)
        archive = await objects.get(str(record["object_key"]))
        assert archive is not None
        archived = decode_archive(archive, iid)
        flat = b"".join(e.SerializeToString() for run in archived for e in run.events)
        assert ENCODING not in flat and marks["argument"].encode() in flat
        offline = await replay_runs(archived, [InstanceWorkflow], SANDBOX_RUNNER)
        assert offline.failures == []

    raw, metadata = await _raw_history(on.temporal.address, iid)
    _absent(raw, marks)
    assert metadata and all(m["encoding"] == ENCODING for m in metadata), metadata
    # An API without the codec on the same namespace still lists it, without its summary
    # (its memo is ciphertext there), instead of failing the whole listing.
    async with api_client(settings, temporal, audit_config, base_url="http://plain") as plain:
        assert await _listed_summary(plain, iid) is None
    assert {m[KEY_ID] for m in metadata} == {b"k1"}
    # The same instance through a client with the keys: every marker is there.
    with_keys = await connect_temporal(on)
    decoded = b"".join(
        e.SerializeToString() for run in await fetch_runs(with_keys, iid) for e in run.events
    )
    for mark in marks.values():
        assert mark.encode() in decoded
    # `gantral replay` (or any Gantral process) without the codec says what it lacks.
    without = await Client.connect(on.temporal.address, data_converter=pydantic_data_converter)
    with pytest.raises(CodecError) as raised:
        await fetch_runs(without, iid)
    assert raised.value.reason == "codec_not_configured"
    assert "GANTRAL_TEMPORAL__CODEC__" in raised.value.message


async def test_keys_rotate_and_histories_from_before_the_codec_still_run(
    settings: Settings, audit_config: AuditSettings
) -> None:
    """Off -> k1 -> k1+k2 (k2 current) -> k2 alone, one deployment's life."""
    suffix = uuid.uuid4().hex[:8]
    off = codec_settings(settings, suffix, {})
    first = codec_settings(settings, suffix, {"enabled": True, "keys": {"k1": K1}})
    rotated = codec_settings(
        settings, suffix, {"enabled": True, "keys": {"k1": K1, "k2": K2}, "current": "k2"}
    )
    dropped = codec_settings(settings, suffix, {"enabled": True, "keys": {"k2": K2}})
    plain_marks, a_marks, b_marks = _markers(), _markers(), _markers()

    async with gantral(off, audit_config, hand_over=True) as api:
        plain_iid, plain_rid = await _start_and_ask(api, plain_marks)
    async with gantral(first, audit_config, hand_over=True) as api:
        # Written before the codec was on: decoded as it is, and it carries on.
        await _reject(api, plain_iid, plain_rid, plain_marks)
        a_iid, a_rid = await _start_and_ask(api, a_marks)
    async with gantral(rotated, audit_config) as api:
        # Started under k1, decided under k2: both keys read its history.
        await _reject(api, a_iid, a_rid, a_marks)
        b_iid, b_rid = await _start_and_ask(api, b_marks)
        await _reject(api, b_iid, b_rid, b_marks)
        await sealed_audit(api, a_iid)

    raw, metadata = await _raw_history(settings.temporal.address, a_iid)
    _absent(raw, a_marks)
    assert {m[KEY_ID] for m in metadata} == {b"k1", b"k2"}
    raw, metadata = await _raw_history(settings.temporal.address, b_iid)
    _absent(raw, b_marks)
    assert {m[KEY_ID] for m in metadata} == {b"k2"}
    raw, metadata = await _raw_history(settings.temporal.address, plain_iid)
    assert plain_marks["argument"].encode() in raw  # from before the codec: as written
    assert {m.get("encoding") for m in metadata} >= {ENCODING, b"json/plain"}

    # k1 dropped while a history still holds it: reading it fails naming the key.
    only_k2 = await connect_temporal(dropped)
    assert len(await fetch_runs(only_k2, b_iid)) == 1
    with pytest.raises(CodecKeyUnknown) as raised:
        await fetch_runs(only_k2, a_iid)
    assert "'k1'" in str(raised.value) and "known: k2" in str(raised.value)


UI_ORIGIN = "https://temporal-ui.example.com"


async def test_an_auditor_reads_the_history_through_the_apis_codec_server(
    settings: Settings, audit_config: AuditSettings
) -> None:
    """`temporal workflow show --codec-endpoint <API>/codec` (as the Web UI does): the
    plaintext for an all-teams auditor, nothing for anyone else, CORS for the UI only."""
    suffix = uuid.uuid4().hex[:8]
    codec = {"enabled": True, "keys": {"k1": K1}, "cors_origins": [UI_ORIGIN]}
    on = codec_settings(settings, suffix, codec)
    marks = _markers()
    async with gantral(on, audit_config) as api:
        iid, _ = await _start_and_ask(api, marks)
        app = api._transport.app  # type: ignore[attr-defined]
        async with serve(app) as url:
            shown = await _temporal_show(on, iid, url, AUDITOR["Authorization"])
            assert marks["argument"] in shown and marks["context"] in shown
            assert marks["trigger"] in shown
            # Without the codec server: ciphertext.
            _absent((await _temporal_show(on, iid, None, None)).encode(), marks)

            async with httpx.AsyncClient(base_url=url) as http:
                # The Web UI's preflight (no token) and its call, from its origin only.
                preflight = {
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
                }
                ok = await http.options("/codec/decode", headers={"Origin": UI_ORIGIN, **preflight})
                assert ok.status_code == 204
                assert ok.headers["access-control-allow-origin"] == UI_ORIGIN
                evil = await http.options(
                    "/codec/decode", headers={"Origin": "https://evil.example", **preflight}
                )
                assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
                raw = await _raw_payload(on.temporal.address, iid)
                call = await http.post(
                    "/codec/decode",
                    json={"payloads": [raw]},
                    headers={**AUDITOR, "Origin": UI_ORIGIN, "X-Namespace": "default"},
                )
                assert call.status_code == 200, call.text
                assert call.headers["access-control-allow-origin"] == UI_ORIGIN
                [decoded] = call.json()["payloads"]
                assert marks["trigger"] in base64.b64decode(decoded["data"]).decode()
                # A caller who may not audit every team: refused.
                approver = await http.post("/codec/decode", json={"payloads": [raw]}, headers=LEAD2)
                assert approver.status_code == 403, approver.text
                # No token: 401 like every route; not base64: a typed 422.
                anonymous = await http.post("/codec/decode", json={"payloads": [raw]})
                assert anonymous.status_code == 401
                bad = await http.post(
                    "/codec/decode", json={"payloads": [{"data": "%%"}]}, headers=AUDITOR
                )
                assert bad.status_code == 422 and bad.json()["details"]["field"] == "payloads[0]"

    # With the codec off the API has nothing to decode with.
    off = codec_settings(settings, suffix, {})
    async with gantral(off, audit_config) as api:
        refused = await api.post("/codec/decode", json={"payloads": []}, headers=AUDITOR)
        assert refused.status_code == 404 and refused.json()["reason"] == "codec_not_enabled"


async def _raw_payload(address: str, iid: str) -> dict[str, Any]:
    """The start's first input payload as stored (encrypted), in protobuf's JSON form."""
    plain = await Client.connect(address)
    history = await plain.get_workflow_handle(iid).fetch_history()
    payload = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


async def _temporal_show(
    settings: Settings, iid: str, api_url: str | None, authorization: str | None
) -> str:
    """`temporal workflow show` as an operator runs it, optionally with the codec server."""
    argv = [
        str(Path(sys.executable).parent / "temporal"), "workflow", "show", "-w", iid,
        "--address", settings.temporal.address, "--namespace", settings.temporal.namespace,
        "--output", "json",
    ]  # fmt: skip
    if api_url is not None:
        argv += ["--codec-endpoint", f"{api_url}/codec"]
    if authorization is not None:
        argv += ["--codec-auth", authorization]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    # The CLI's JSON keeps each payload's data as base64: the text, as the UI shows it.
    return out.decode() + "".join(_payload_texts(json.loads(out)))


def _payload_texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [t for value in node.values() for t in _payload_texts(value)]
        if isinstance(node.get("data"), str) and "metadata" in node:
            found.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
        return found
    if isinstance(node, list):
        return [t for item in node for t in _payload_texts(item)]
    return []

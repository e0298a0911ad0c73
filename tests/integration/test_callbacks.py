"""A serverless agent woken by Gantral's callback finishes its step (real stack).

The function (sdk/typescript/scenario/serverless.ts) starts an instance naming a
callback URL, asks to deploy, saves its resume token and returns. A tech lead approves.
The callback worker (its own follower over the audit log, deliveries as activities with
retries) POSTs the signed webhook to a real HTTP endpoint, which, like a serverless
platform, runs the function with the request: the first attempt is answered 503 (a cold
start failing), the retry wakes the function, which verifies the signature with the SDK,
resumes the step and completes the instance. A callback URL outside the allowed
prefixes is never called.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus

from gantral.audit.config import AuditConfig
from gantral.callbacks import signing
from gantral.callbacks.settings import CallbackSettings
from gantral.callbacks.worker import callback_worker, follower_id
from gantral.devstack.process import free_port
from gantral.identity.settings import IdentitySettings
from gantral.settings import Settings
from tests.integration.auth import CLIENT_ID, CLIENT_SECRET, LEAD
from tests.integration.serving import serve, served_api
from tests.integration.test_sdk_contract import TS_DIR, build_typescript, run_process

pytest.importorskip("standardwebhooks")
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

__all__ = ["served_api"]

SECRET = signing.new_secret()
ARGS = {"service": "billing", "version": "2.4.1", "replicas": 3}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Platform:
    """A serverless platform's HTTP trigger: each POST runs `handler`; 2xx if it worked."""

    handler: Callable[[dict[str, str], bytes], Awaitable[bool]]
    fail_first: bool = True
    calls: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if self.fail_first and not self.calls:
            status = 503  # the function's cold start failed: Gantral must retry
        else:
            status = 200 if await self.handler(headers, body) else 500
        self.calls.append((headers, body, status))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest_asyncio.fixture(loop_scope="session")
async def platform_url(platform: Platform) -> AsyncIterator[str]:
    async with serve(platform) as url:
        yield url


@pytest.fixture
def function_env(served_api: str, dev_issuer: IdentitySettings, tmp_path: Path) -> dict[str, str]:
    assert dev_issuer.jwks_url is not None
    return {
        "GANTRAL_URL": served_api,
        "GANTRAL_TOKEN_URL": dev_issuer.jwks_url.rsplit("/", 1)[0] + "/token",
        "GANTRAL_CLIENT_ID": CLIENT_ID,
        "GANTRAL_CLIENT_SECRET": CLIENT_SECRET,
        "GANTRAL_WEBHOOK_SECRET": SECRET,
        "STATE_FILE": str(tmp_path / "resume-token"),
    }


@dataclass
class Woken:
    outputs: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def woken() -> Woken:
    return Woken()


@pytest.fixture
def platform(function_env: dict[str, str], woken: Woken) -> Platform:
    async def run_function(headers: dict[str, str], body: bytes) -> bool:
        node = await build_typescript()
        env = {
            **function_env,
            "WEBHOOK_HEADERS": json.dumps(headers),
            "WEBHOOK_BODY": body.decode(),
        }
        try:
            out = await run_process(
                node, "dist/scenario/serverless.js", "wake", cwd=TS_DIR, env=env
            )
        except AssertionError:
            return False
        woken.outputs.append(json.loads(out))
        return True

    return Platform(run_function)


@pytest_asyncio.fixture(loop_scope="session")
async def callbacks(
    temporal: Client,
    settings: Settings,
    audit_config: AuditConfig,
    workers: None,
    platform_url: str,
) -> AsyncIterator[CallbackSettings]:
    config = CallbackSettings(
        secret=SECRET,
        allowed_url_prefixes=[platform_url + "/"],
        task_queue=f"callbacks-{uuid.uuid4().hex[:8]}",
        poll_interval_seconds=0.3,
        max_retry_interval_seconds=1.0,
        max_attempts=5,
    )
    # From the log's start: only instances that named a callback URL get one.
    async with callback_worker(temporal, settings, config, audit_config, from_log_index=-1):
        try:
            yield config
        finally:
            # The follower outlives its worker in production; not in a test.
            await temporal.get_workflow_handle(follower_id(config)).terminate("test over")


async def _pending(api: httpx.AsyncClient, iid: str) -> dict[str, Any]:
    for _ in range(200):
        view = (await api.get(f"/v1/instances/{iid}")).json()
        if view.get("pending_request"):
            return dict(view["pending_request"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"{iid} has no pending request")


async def _until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.1)
    assert check(), what


async def test_a_function_woken_by_the_callback_finishes_the_step(
    callbacks: CallbackSettings,
    platform: Platform,
    platform_url: str,
    served_api: str,
    function_env: dict[str, str],
    woken: Woken,
    temporal: Client,
) -> None:
    node = await build_typescript()
    started = json.loads(
        await run_process(
            node, "dist/scenario/serverless.js", "start", cwd=TS_DIR,
            env={**function_env, "CALLBACK_URL": f"{platform_url}/hooks/deploy"},
        )
    )  # fmt: skip
    iid, rid = started["instance_id"], started["request_id"]
    async with httpx.AsyncClient(base_url=served_api, headers=LEAD) as api:
        request = await _pending(api, iid)
        assert request["request_id"] == rid
        decided = await api.post(
            f"/v1/instances/{iid}/decisions",
            json={"request_id": rid, "decision_type": "APPROVE", "idempotency_key": rid},
        )
        assert decided.status_code == 200, decided.text

        await _until(lambda: bool(woken.outputs), "the function was not woken")
        assert woken.outputs == [{"status": "APPROVED", "ran": ARGS, "state": "COMPLETED"}]
        view = (await api.get(f"/v1/instances/{iid}")).json()
        assert view["state"] == "COMPLETED" and view["cost"]["tokens"] == 321

    # The failed first attempt was retried: the same webhook id, a valid signature each.
    assert [status for _, _, status in platform.calls] == [503, 200]
    for headers, body, _ in platform.calls:
        assert headers["webhook-id"] == f"{iid}.{rid}"
        event = signing.verify(SECRET, headers, body)
        assert event["type"] == "gantral.request.resolved"
        assert event["data"] == {
            "instance_id": iid, "request_id": rid, "status": "APPROVED",
            "event": "DECISION_RECORDED", "decided_by": "alice",
        }  # fmt: skip
    # Delivered once per resolution, however long the follower keeps reading.
    await asyncio.sleep(2)
    assert len(platform.calls) == 2
    delivery = temporal.get_workflow_handle(f"callback-{iid}.{rid}")
    assert (await delivery.describe()).status is WorkflowExecutionStatus.COMPLETED


async def test_a_callback_url_outside_the_allowed_prefixes_is_never_called(
    callbacks: CallbackSettings,
    platform: Platform,
    served_api: str,
    function_env: dict[str, str],
    temporal: Client,
) -> None:
    node = await build_typescript()
    outside = f"http://127.0.0.1:{free_port()}/not-allowed"
    started = json.loads(
        await run_process(
            node, "dist/scenario/serverless.js", "start", cwd=TS_DIR,
            env={**function_env, "CALLBACK_URL": outside},
        )
    )  # fmt: skip
    iid, rid = started["instance_id"], started["request_id"]
    async with httpx.AsyncClient(base_url=served_api, headers=LEAD) as api:
        await _pending(api, iid)
        decided = await api.post(
            f"/v1/instances/{iid}/decisions",
            json={"request_id": rid, "decision_type": "REJECT", "justification": "no",
                  "idempotency_key": rid},
        )  # fmt: skip
        assert decided.status_code == 200, decided.text
    handle = temporal.get_workflow_handle(f"callback-{iid}.{rid}")

    async def status() -> WorkflowExecutionStatus | None:
        try:
            return (await handle.describe()).status
        except Exception:
            return None

    async with asyncio.timeout(60):
        while (await status()) is not WorkflowExecutionStatus.FAILED:
            await asyncio.sleep(0.2)
    assert platform.calls == []

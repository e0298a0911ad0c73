"""A serverless agent woken by Gantral's callback finishes its step (real stack).

The function (sdk/typescript/scenario/serverless.ts) starts an instance naming a
callback URL, asks to deploy, saves its resume token and returns. A tech lead approves.
The callback worker (its own follower over the audit log, deliveries as activities with
retries) POSTs the signed webhook to a real HTTP endpoint, which, like a serverless
platform, runs the function with the request: the first attempt is answered 503 (a cold
start failing), the retry wakes the function, which verifies the signature with the SDK,
resumes the step and completes the instance. A callback URL outside the allowed
prefixes (an escape with `..` among them) is refused at start and never called; one that
got into an instance anyway is refused by the worker, never called either.
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

from gantral.callbacks import signing
from gantral.devstack.process import free_port
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.callbacks import CallbackSettings, CallbackURLs
from gantral.settings.identity import IdentitySettings
from gantral.workers.callbacks import callback_worker, follower_id
from tests.helpers.auth import AGENT, CLIENT_ID, CLIENT_SECRET, LEAD
from tests.helpers.sdk_builds import TS_DIR, build_typescript, run_process
from tests.helpers.serving import api_replica, request_body, serve

pytest.importorskip("standardwebhooks")
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

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
        body = await request_body(receive)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if self.fail_first and not self.calls:
            status = 503  # the function's cold start failed: Gantral must retry
        else:
            status = 200 if await self.handler(headers, body) else 500
        self.calls.append((headers, body, status))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def platform_port() -> int:
    return free_port()


@pytest.fixture
def platform_url(platform_port: int) -> str:
    """Known before the platform serves: the API allows callbacks under it."""
    return f"http://127.0.0.1:{platform_port}"


@pytest_asyncio.fixture(loop_scope="session")
async def platform_serving(platform: Platform, platform_port: int) -> AsyncIterator[Platform]:
    async with serve(platform, platform_port):
        yield platform


@dataclass
class Served:
    url: str
    app: Any


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    settings: Settings,
    temporal: Client,
    workers: None,
    audit_config: AuditSettings,
    platform_url: str,
) -> AsyncIterator[Served]:
    """The API on a real port, allowing callbacks under the platform's /hooks/ only."""
    allowed = CallbackURLs(allowed_url_prefixes=[platform_url + "/hooks/"])
    async with (
        api_replica(settings, temporal, audit_config, callbacks=allowed) as app,
        serve(app) as url,
    ):
        yield Served(url, app)


@pytest.fixture
def served_api(served: Served) -> str:
    return served.url


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
    audit_config: AuditSettings,
    workers: None,
    platform_url: str,
    platform_serving: Platform,
) -> AsyncIterator[CallbackSettings]:
    config = CallbackSettings(
        secret=SECRET,
        allowed_url_prefixes=[platform_url + "/hooks/"],
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
            json={"request_id": rid, "seen_args_digest": request["args_digest"],
                  "decision_type": "APPROVE", "idempotency_key": rid},
        )  # fmt: skip
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


ESCAPES = [
    "/hooks/../escaped",  # the escape
    "/hooks/%2e%2e/escaped",
    "/hooks/%2E%2E/escaped",
    "/hooks/.%2E/escaped",
    "/hooks/..;/escaped",
    "/hooks/..%2fescaped",
    "/hooks\\..\\escaped",
    "/not-allowed",
]


async def test_a_callback_url_outside_the_allowed_prefixes_is_refused_at_start(
    callbacks: CallbackSettings, platform: Platform, platform_url: str, served_api: str
) -> None:
    host = platform_url.removeprefix("http://")
    urls = [platform_url + path for path in ESCAPES]
    urls += [f"http://user@{host}/hooks/deploy", f"https://{host}/hooks/deploy"]
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    async with httpx.AsyncClient(base_url=served_api, headers=AGENT) as api:
        for url in urls:
            context = {"gantral:callback_url": url}
            resp = await api.post("/v1/instances", json={**body, "trigger_context": context})
            assert resp.status_code == 422, (url, resp.text)
            refusal = resp.json()
            if refusal["reason"] == "validation_failed":  # the URL's form (user info)
                assert "user" in refusal["message"], refusal
                continue
            assert refusal["reason"] == "callback_url_not_allowed", refusal
            assert refusal["details"]["field"] == "trigger_context.gantral:callback_url"
        # The start request's own field too (https, as it requires).
        https = {**body, "callback_url": f"https://{host}/hooks/../escaped"}
        resp = await api.post("/v1/instances", json=https)
        assert resp.status_code == 422 and resp.json()["reason"] == "callback_url_not_allowed"
        assert resp.json()["details"]["field"] == "callback_url"
        # Under the prefix: accepted.
        ok = {**body, "trigger_context": {"gantral:callback_url": f"{platform_url}/hooks/x"}}
        assert (await api.post("/v1/instances", json=ok)).status_code == 201
    assert platform.calls == []


async def test_an_escaping_url_that_got_into_an_instance_is_never_called(
    callbacks: CallbackSettings,
    platform: Platform,
    platform_url: str,
    served: Served,
    temporal: Client,
) -> None:
    """An instance that names an escaping URL anyway (started before the allow-list
    changed, or before this check existed: the API's check is skipped here) is resolved,
    and the callback worker refuses the delivery: the URL is never called."""
    core = served.app.state.core
    core._check_callback_urls = lambda *_: None  # as an API without the check started it
    body = {"workflow_id": "deploy", "owning_team_id": "payments"}
    async with httpx.AsyncClient(base_url=served.url) as api:
        context = {"gantral:callback_url": f"{platform_url}/hooks/../escaped"}
        started = await api.post(
            "/v1/instances", json={**body, "trigger_context": context}, headers=AGENT
        )
        assert started.status_code == 201, started.text
        iid = started.json()["instance_id"]
        asked = await api.post(
            f"/v1/instances/{iid}/steps/deploy/authorize",
            json={"action": "deploy", "arguments": ARGS},
            headers=AGENT,
        )
        rid, digest = asked.json()["request"]["request_id"], asked.json()["args_digest"]
        decided = await api.post(
            f"/v1/instances/{iid}/decisions",
            json={"request_id": rid, "seen_args_digest": digest, "decision_type": "REJECT",
                  "justification": "no", "idempotency_key": rid},
            headers=LEAD,
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

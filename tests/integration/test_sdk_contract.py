"""One contract, three SDKs: the same scenario through the Python, TypeScript and Go SDKs
against one real stack (Temporal, workers, PostgreSQL, S3, the API on a real port).

Each SDK, as an agent signed in with client credentials at the session's issuer:
  - approved: start, authorize (PENDING), a tech lead decides over the SDK, wait, start
    the step with the grant, report cost, complete, then read the audit log, re-verify
    its chain locally and ask the server to verify it;
  - rejected: the step never runs, the refusal is typed (`rejected`);
  - overridden: the step runs the human's edited arguments (the TypeScript and Go SDKs
    stop at PENDING with a resume token and pick up after the decision);
  - other arguments: a grant presented for other arguments is refused locally by the
    SDK and by the server (409 args_digest_mismatch);
  - not ready: on an API of the same stack whose readiness rules let one `deploy` step
    run at a time, a step held by another instance makes authorize answer NOT_READY:
    a short wait is refused (`not_ready`, the server's reason `concurrency`); a long
    one waits the server's hint, asks again, and runs once the slot is freed;
  - callback: an instance started with a callback URL stops at PENDING; the callback
    worker POSTs the signed event when a human approves; the SDK verifies it (an altered
    body is refused), resumes from its token and finishes the step;
  - halted: a platform admin halts the capacity workflow over the SDK; the agent's
    authorize and start raise the SDK's own halted error naming the halt, its reason and
    scope; the admin lifts it, and the step runs.
The rejection's refusal says who refused and why, in every SDK (the message and
the decision it carries). The TypeScript and Go scenarios (sdk/typescript/scenario/contract.ts,
sdk/go/internal/scenario) print what happened as JSON; this test asserts the same of
all three, and checks the server's own record of each instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import gantral_sdk as sdk
import httpx
import pytest
import pytest_asyncio
from gantral_sdk import _governed
from temporalio.client import Client

from gantral.callbacks import signing
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.settings.callbacks import CallbackSettings, CallbackURLs
from gantral.settings.identity import IdentitySettings
from gantral.workers.callbacks import callback_worker, follower_id
from tests.helpers.auth import ADMIN, AUDITOR, CLIENT_ID, CLIENT_SECRET, LEAD, token
from tests.helpers.integrations_support import whole_inbox
from tests.helpers.ports import quiet_port
from tests.helpers.sdk_builds import TS_DIR, build_typescript, run_process
from tests.helpers.serving import api_replica, request_body, serve, served_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

__all__ = ["served_api"]  # the API on a real port, served from the workers' event loop

ROOT = Path(__file__).resolve().parents[2]
GO_DIR = ROOT / "sdk" / "go"
ACTION = "deploy.run"
ARGS: dict[str, Any] = {"service": "billing", "version": "2.4.1", "replicas": 3}
EDITED = {**ARGS, "version": "2.4.0"}
HUMAN = token("alice", ["TECH_LEAD", "approver", "supervisor"])
AUDITOR_TOKEN = AUDITOR["Authorization"].removeprefix("Bearer ")
ADMIN_TOKEN = ADMIN["Authorization"].removeprefix("Bearer ")  # halts and lifts
WEBHOOK_SECRET = signing.new_secret()
# One governed `deploy` step at a time on the capacity API; NOT_READY says retry in 0.2 s.
# Its own workflow: steps of `deploy` left open by other tests do not hold its one slot.
CAPACITY_WORKFLOW = "deploy-capacity"
CAPACITY_RULES = """
workflows: {deploy-capacity: {concurrency: 1}}
timing: {retry_after_seconds: 0.2}
"""


def _env(
    url: str, identity: IdentitySettings, capacity_url: str, callback_url: str
) -> dict[str, str]:
    assert identity.jwks_url is not None
    token_url = identity.jwks_url.rsplit("/", 1)[0] + "/token"
    return {
        "GANTRAL_URL": url,
        "GANTRAL_TOKEN_URL": token_url,
        "GANTRAL_CLIENT_ID": CLIENT_ID,
        "GANTRAL_CLIENT_SECRET": CLIENT_SECRET,
        "GANTRAL_HUMAN_TOKEN": HUMAN,
        "GANTRAL_AUDITOR_TOKEN": AUDITOR_TOKEN,
        "GANTRAL_ADMIN_TOKEN": ADMIN_TOKEN,
        "GANTRAL_CAPACITY_URL": capacity_url,
        "GANTRAL_CAPACITY_WORKFLOW": CAPACITY_WORKFLOW,
        "GANTRAL_CALLBACK_URL": callback_url,
        "GANTRAL_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


@pytest_asyncio.fixture(loop_scope="session")
async def capacity_api(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings, tmp_path: Path
) -> AsyncIterator[str]:
    """An API of the session's stack whose readiness rules (its own counters) let one
    `deploy` step run at a time, on a real port."""
    rules = tmp_path / "capacity.yaml"
    rules.write_text(CAPACITY_RULES)
    readiness = settings.readiness.model_copy(
        update={"rules_file": rules, "schema_name": f"readiness_{uuid.uuid4().hex[:10]}"}
    )
    async with (
        api_replica(settings, temporal, audit_config, readiness=readiness) as app,
        serve(app) as url,
    ):
        yield url


@contextlib.asynccontextmanager
async def _api_allowing(
    temporal: Client, settings: Settings, audit_config: AuditSettings, callback_url: str
) -> AsyncIterator[str]:
    """An API of the session's stack that lets instances name `callback_url` (the session's
    API refuses a callback URL outside its allow-list at start), on a real port."""
    allowed = CallbackURLs(allowed_url_prefixes=[callback_url])
    async with (
        api_replica(settings, temporal, audit_config, callbacks=allowed) as app,
        serve(app) as url,
    ):
        yield url


@contextlib.asynccontextmanager
async def _callbacks(
    temporal: Client, settings: Settings, audit_config: AuditSettings, callback_url: str
) -> AsyncIterator[None]:
    """The callback worker, delivering only to `callback_url`, from the log's head on."""
    config = CallbackSettings(
        secret=WEBHOOK_SECRET,
        allowed_url_prefixes=[callback_url],
        task_queue=f"callbacks-{uuid.uuid4().hex[:8]}",
        poll_interval_seconds=0.3,
        max_retry_interval_seconds=1.0,
        max_attempts=20,
    )
    async with callback_worker(temporal, settings, config, audit_config):
        try:
            yield
        finally:
            await temporal.get_workflow_handle(follower_id(config)).terminate("test over")


async def _typescript(env: dict[str, str]) -> str:
    node = await build_typescript()
    return await run_process(node, "dist/scenario/contract.js", cwd=TS_DIR, env=env)


async def _go(env: dict[str, str]) -> str:
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go SDK needs Go (Debian's golang-go): run `make sdk`")
    # The standard library only: no module proxy, no downloads.
    return await run_process(
        go,
        "run",
        "./internal/scenario",
        cwd=GO_DIR,
        env={**env, "GOPROXY": "off"},
    )


async def _python(env: dict[str, str]) -> dict[str, Any]:
    """The same scenario through the Python SDK."""
    url = env["GANTRAL_URL"]
    auth = sdk.ClientCredentials(env["GANTRAL_TOKEN_URL"], CLIENT_ID, CLIENT_SECRET)
    async with (
        sdk.AsyncGantralClient(url, auth=auth, poll_wait=5) as agent,
        sdk.AsyncGantralClient(url, auth=sdk.BearerToken(HUMAN)) as human,
        # A verification reads the instance's chain and the stored checkpoint notes: on a
        # busy CI machine that can take longer than httpx's 5 s default.
        httpx.AsyncClient(base_url=url, headers=AUDITOR, timeout=60) as auditor,
    ):
        decisions: list[asyncio.Task[sdk.DecisionResult]] = []

        listed: list[bool] = []

        async def approve_from_inbox(iid: str, request: sdk.HumanRequest) -> sdk.DecisionResult:
            # The approver finds it in their inbox, then decides on the item as listed. The
            # inbox lists a request once the sink stored it, just after the agent's PENDING.
            item = None
            for _ in range(50):
                inbox = await whole_inbox(human)
                item = next((i for i in inbox if i.request_id == request.request_id), None)
                if item is not None:
                    break
                await asyncio.sleep(0.1)
            listed.append(item is not None)
            return await human.decide(iid, item or request, "APPROVE")

        def decide(iid: str, kind: str, **extra: Any) -> Any:
            def on_pending(request: sdk.HumanRequest) -> None:
                # The request as shown: its id and digest are what the decision names.
                decisions.append(asyncio.ensure_future(
                    human.decide(iid, request, kind, **extra)
                ))  # fmt: skip

            return on_pending

        async def start() -> str:
            iid = (await agent.start_instance("deploy", "payments", {"sdk": "python"})).instance_id
            async with agent.governed_step(iid, "plan"):
                pass
            return iid

        result: dict[str, Any] = {}
        iid = await start()
        async with agent.governed_step(
            iid, "deploy", action=ACTION, arguments=ARGS, wait=60,
            on_pending=lambda r: decisions.append(
                asyncio.ensure_future(approve_from_inbox(iid, r))
            ),
        ) as step:  # fmt: skip
            step.cost = sdk.Cost(tokens=1200, money=0.42, wall_time_seconds=3.5)
            ran = dict(step.arguments)
        final = await agent.complete(iid, "deployed")
        audit = await _sealed(auditor, iid)
        verdict = (await auditor.get(f"/v1/audit/instances/{iid}/verify")).json()
        result["approved"] = {
            "instance_id": iid, "inbox_listed": listed == [True],
            "outcome": step.outcome, "ran": ran,
            "args_digest": step.args_digest, "grant_args_digest": step.grant.args_digest,
            "state": str(final.state), "cost_tokens": final.cost.tokens,
            "audit_types": [e["type"] for e in audit["events"]],
            "chain_problems": [], "server_verify_ok": verdict["ok"],
        }  # fmt: skip

        iid = await start()
        ran_rejected = False
        with pytest.raises(sdk.StepRefused) as refused:
            async with agent.governed_step(
                iid, "deploy", action=ACTION, arguments=ARGS, wait=60,
                on_pending=decide(iid, "REJECT", justification="not today"),
            ):  # fmt: skip
                ran_rejected = True
        state = (await agent.get_instance(iid)).state
        refused_request = refused.value.request
        result["rejected"] = {
            "instance_id": iid, "refusal": refused.value.reason, "ran": ran_rejected,
            "state": str(state), "message": str(refused.value),
            "decided_by": refused_request.decided_by if refused_request else None,
            "justification": refused.value.decision.justification
            if refused.value.decision else None,
        }  # fmt: skip

        iid = await start()
        override = decide(
            iid, "OVERRIDE", justification="2.4.1 fails canary", context_delta={"version": "2.4.0"}
        )
        async with agent.governed_step(
            iid, "deploy", action=ACTION, arguments=ARGS, wait=60, on_pending=override
        ) as step:
            ran = dict(step.arguments)
        final = await agent.complete(iid)
        result["overridden"] = {
            "instance_id": iid, "pending": True, "outcome": step.outcome, "ran": ran,
            "state": str(final.state),
        }  # fmt: skip

        iid = await start()
        approve = decide(iid, "APPROVE")
        prepared = await agent.prepare_step(
            iid, "deploy", action=ACTION, arguments=ARGS, wait=60, on_pending=approve
        )
        other = {**ARGS, "version": "9.9.9"}
        # The SDK's own grant check, with the approved request and other arguments.
        with pytest.raises(sdk.DigestMismatch) as local:
            _governed.bind(iid, "deploy", ACTION, other, None, prepared.request)  # type: ignore[arg-type]
        with pytest.raises(sdk.Conflict) as server:
            await agent.report(
                iid, sdk.AgentEventKind.STEP_STARTED, step_id="deploy",
                grant_id=prepared.grant.grant_id, args_digest=sdk.args_digest(ACTION, other),
            )  # fmt: skip
        await agent.cancel(iid, "contract test")
        result["other_arguments"] = {
            "instance_id": iid, "local_refusal": local.value.reason,
            "server_status": server.value.status_code, "server_reason": server.value.reason,
        }  # fmt: skip
        await asyncio.gather(*decisions)
        result["not_ready"] = await _python_not_ready(env, auth)
        result["callback"] = await _python_callback(env, agent, human)
        result["halted"] = await _python_halted(env, agent)
        return result


async def _python_halted(env: dict[str, str], agent: sdk.AsyncGantralClient) -> dict[str, Any]:
    async with sdk.AsyncGantralClient(
        env["GANTRAL_URL"], auth=sdk.BearerToken(ADMIN_TOKEN)
    ) as admin:
        context = {"sdk": "python", "phase": "halted"}
        iid = (await agent.start_instance(CAPACITY_WORKFLOW, "payments", context)).instance_id
        halt = await admin.raise_halt({"workflow": CAPACITY_WORKFLOW}, "contract test: python")
        out: dict[str, Any] = {
            "instance_id": iid, "halt_id": halt.halt_id, "raised_by": halt.raised_by,
            "scope": halt.scope.model_dump(mode="json", exclude_none=True),
        }  # fmt: skip
        try:
            with pytest.raises(sdk.Halted) as refused:
                await agent.authorize(iid, "plan", action="plan", arguments={})
            scope = refused.value.scope
            out["refusal"] = {
                "typed": True, "status": refused.value.status_code,
                "reason": refused.value.reason, "halt_id": refused.value.halt_id,
                "halt_reason": refused.value.halt_reason,
                "scope": scope.model_dump(mode="json", exclude_none=True) if scope else None,
            }  # fmt: skip
            with pytest.raises(sdk.Halted) as start_refused:
                await agent.start_instance(CAPACITY_WORKFLOW, "payments", context)
            out["start_halt_id"] = start_refused.value.halt_id
            out["listed"] = halt.halt_id in {h.halt_id for h in await admin.list_halts()}
        finally:  # never leave the workflow halted for the next scenario
            out["lifted_by"] = (await admin.lift_halt(halt.halt_id, "contract test over")).lifted_by
        ran = False
        async with agent.governed_step(iid, "plan"):
            ran = True
        out["ran"], out["state"] = ran, str((await agent.complete(iid)).state)
    return out


class _NotReadyLog(logging.Handler):
    """The Python SDK's NOT_READY answers, from its log ("step %s not ready (%s); asking
    again in %.2fs"), with a hook on each."""

    def __init__(self, on_answer: Callable[[int], None]) -> None:
        super().__init__(logging.INFO)
        self.answers: list[dict[str, Any]] = []
        self.on_answer = on_answer

    def emit(self, record: logging.LogRecord) -> None:
        if "not ready" in record.msg and isinstance(record.args, tuple):
            _, why, pause = record.args
            self.answers.append({"reason": why, "pause": pause})
            self.on_answer(len(self.answers))


async def _python_not_ready(env: dict[str, str], auth: sdk.ClientCredentials) -> dict[str, Any]:
    order: list[str] = []
    release = asyncio.Event()
    async with sdk.AsyncGantralClient(env["GANTRAL_CAPACITY_URL"], auth=auth) as capacity:

        async def begin() -> str:
            context = {"sdk": "python", "phase": "not_ready"}
            started = await capacity.start_instance(CAPACITY_WORKFLOW, "payments", context)
            return started.instance_id

        holder, waiter = await begin(), await begin()
        held = await capacity.prepare_step(holder, "plan")

        async def hold() -> None:
            async with capacity.run_step(held):
                await release.wait()
                order.append("holder_done")

        holding = asyncio.ensure_future(hold())
        with pytest.raises(_governed.StepNotReady) as short:
            async with capacity.governed_step(waiter, "plan", wait=1):
                order.append("ran_too_early")
        seen = _NotReadyLog(lambda n: release.set() if n == 2 else None)
        logger = logging.getLogger("gantral_sdk")
        level = logger.level
        logger.addHandler(seen)
        logger.setLevel(logging.INFO)
        try:
            async with capacity.governed_step(waiter, "plan", wait=60):
                order.append("waiter_ran")
        finally:
            logger.removeHandler(seen)
            logger.setLevel(level)
            # Fewer NOT_READY answers than expected must fail the checks, never leave the
            # holder waiting for ever.
            release.set()
        await asyncio.wait_for(holding, timeout=30)
        await capacity.complete(holder)
        final = await capacity.complete(waiter)
    return {
        "instance_ids": [holder, waiter], "short_reason": short.value.reason,
        "short_why": short.value.why, "short_message": str(short.value),
        "answers": seen.answers, "order": order, "state": str(final.state),
    }  # fmt: skip


class _Receiver:
    """The agent's HTTP endpoint for callbacks: keeps the first POST to `path`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.delivered: asyncio.Future[tuple[dict[str, str], bytes]] = (
            asyncio.get_running_loop().create_future()
        )

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        body = await request_body(receive)
        if scope["method"] == "POST" and scope["path"] == self.path and not self.delivered.done():
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.delivered.set_result((headers, body))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _python_callback(
    env: dict[str, str], agent: sdk.AsyncGantralClient, human: sdk.AsyncGantralClient
) -> dict[str, Any]:
    target = httpx.URL(env["GANTRAL_CALLBACK_URL"])
    receiver = _Receiver(target.path)
    async with serve(receiver, port=target.port):
        context = {"sdk": "python", "phase": "callback"}
        iid = (
            await agent.start_instance("deploy", "payments", context, callback_url=str(target))
        ).instance_id
        async with agent.governed_step(iid, "plan"):
            pass
        asked = await agent.authorize(iid, "deploy", action=ACTION, arguments=ARGS)
        assert asked.request is not None
        rid = asked.request.request_id
        seen = sdk.args_digest(asked.request.action, asked.request.arguments)
        await human.decide(iid, rid, "APPROVE", seen_args_digest=seen)
        headers, body = await asyncio.wait_for(receiver.delivered, timeout=90)
        forged = ""
        try:
            sdk.verify_callback(WEBHOOK_SECRET, headers, body.replace(b"APPROVED", b"REJECTED"))
        except Exception:
            forged = "webhook_invalid"
        event = sdk.verify_callback(WEBHOOK_SECRET, headers, body)
        step = await agent.resume_step(iid, "deploy", rid, action=ACTION, arguments=ARGS, wait=5)
        async with agent.run_step(step) as running:
            ran = dict(running.arguments)
        final = await agent.complete(iid)
    return {
        "instance_id": iid, "request_id": rid, "webhook_id": headers.get("webhook-id"),
        "event_type": event["type"], "event": event["data"], "forged": forged, "ran": ran,
        "state": str(final.state),
    }  # fmt: skip


async def _sealed(auditor: httpx.AsyncClient, iid: str) -> dict[str, Any]:
    for _ in range(200):
        view = (await auditor.get(f"/v1/audit/instances/{iid}")).json()
        if view.get("sealed"):
            return dict(view)
        await asyncio.sleep(0.1)
    raise AssertionError(f"audit of {iid} not sealed in time")


@pytest.mark.parametrize("language", ["python", "typescript", "go"])
async def test_one_scenario_through_every_sdk(
    language: str,
    served_api: str,
    capacity_api: str,
    dev_issuer: IdentitySettings,
    temporal: Client,
    settings: Settings,
    audit_config: AuditSettings,
) -> None:
    callback_url = f"http://127.0.0.1:{quiet_port()}/hooks/{language}"
    async with (
        _api_allowing(temporal, settings, audit_config, callback_url) as api_url,
        _callbacks(temporal, settings, audit_config, callback_url),
    ):
        env = _env(api_url, dev_issuer, capacity_api, callback_url)
        if language == "python":
            result = await _python(env)
        elif language == "typescript":
            result = json.loads(await _typescript(env))
        else:
            result = json.loads(await _go(env))

    async with httpx.AsyncClient(base_url=served_api, headers=LEAD) as api:
        await _check_approved(api, result["approved"])
        await _check_rejected(api, result["rejected"], language)
        await _check_overridden(api, result["overridden"])
        await _check_other_arguments(api, result["other_arguments"])
        await _check_not_ready(api, result["not_ready"])
        await _check_callback(api, result["callback"])
        await _check_halted(api, result["halted"], language)


async def _instance(api: httpx.AsyncClient, iid: str) -> dict[str, Any]:
    resp = await api.get(f"/v1/instances/{iid}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def _check_approved(api: httpx.AsyncClient, r: dict[str, Any]) -> None:
    digest = sdk.args_digest(ACTION, ARGS)
    assert r["inbox_listed"] is True  # the approver found the request in their inbox
    assert r["outcome"] == "APPROVED"
    assert r["ran"] == ARGS
    assert r["args_digest"] == r["grant_args_digest"] == digest
    assert r["state"] == "COMPLETED" and r["cost_tokens"] == 1200
    view = await _instance(api, r["instance_id"])
    assert view["state"] == "COMPLETED" and view["cost"]["tokens"] == 1200
    assert view["started_by"]["id"] == CLIENT_ID and view["started_by"]["kind"] == "agent"
    [decision] = view["decisions"]
    assert decision["decision_type"] == "APPROVE" and decision["human_actor_id"] == "alice"
    assert decision["args_digest"] == digest
    types = r["audit_types"]
    assert types[0] == "INSTANCE_STARTED" and types[-1] == "INSTANCE_SEALED"
    assert "DECISION_RECORDED" in types and r["chain_problems"] == []
    assert r["server_verify_ok"] is True


async def _check_rejected(api: httpx.AsyncClient, r: dict[str, Any], language: str) -> None:
    assert r["refusal"] == "rejected" and r["ran"] is False
    view = await _instance(api, r["instance_id"])
    assert r["state"] == view["state"] == "TERMINATED"
    assert [d["decision_type"] for d in view["decisions"]] == ["REJECT"]
    assert view["decisions"][0]["justification"] == "not today"
    # Who refused and why.
    assert r["decided_by"] == "alice" and r["justification"] == "not today"
    assert r["message"].endswith("was REJECTED by alice (TECH_LEAD, via api): not today")


async def _check_not_ready(api: httpx.AsyncClient, r: dict[str, Any]) -> None:
    # Refused after its short wait, with the server's reason; nothing ran then.
    assert (r["short_reason"], r["short_why"]) == ("not_ready", "concurrency")
    assert "concurrency" in r["short_message"]
    # The long wait asked again after the server's hint (0.2 s) each time, and ran only
    # once the step holding the slot had ended.
    assert len(r["answers"]) >= 2
    for answer in r["answers"]:
        assert answer["reason"] == "concurrency"
        assert answer["pause"] == pytest.approx(0.2)
        assert answer.get("retry_after", 0.2) == pytest.approx(0.2)
    assert r["order"] == ["holder_done", "waiter_ran"]
    assert r["state"] == "COMPLETED"
    for iid in r["instance_ids"]:
        assert (await _instance(api, iid))["state"] == "COMPLETED"


async def _check_callback(api: httpx.AsyncClient, r: dict[str, Any]) -> None:
    # Delivered to the agent's endpoint: the callback worker calls only that URL.
    iid, rid = r["instance_id"], r["request_id"]
    assert r["webhook_id"] == f"{iid}.{rid}"  # the same on every retry
    assert r["event_type"] == "gantral.request.resolved"
    event = r["event"]
    assert (event["instance_id"], event["request_id"]) == (iid, rid)
    assert (event["status"], event["decided_by"]) == ("APPROVED", "alice")
    assert r["forged"] == "webhook_invalid"  # an altered body is refused
    assert r["ran"] == ARGS and r["state"] == "COMPLETED"
    assert (await _instance(api, iid))["state"] == "COMPLETED"


async def _check_overridden(api: httpx.AsyncClient, r: dict[str, Any]) -> None:
    assert r["pending"] is True and r["outcome"] == "OVERRIDDEN"
    assert r["ran"] == EDITED
    view = await _instance(api, r["instance_id"])
    assert r["state"] == view["state"] == "COMPLETED"
    request = view["requests"][-1]
    assert request["status"] == "OVERRIDDEN"
    assert request["grant"]["args_digest"] == sdk.args_digest(ACTION, EDITED)


async def _check_other_arguments(api: httpx.AsyncClient, r: dict[str, Any]) -> None:
    assert r["local_refusal"] == "args_digest_mismatch"
    assert r["server_status"] == 409 and r["server_reason"] == "args_digest_mismatch"
    view = await _instance(api, r["instance_id"])
    assert view["state"] == "TERMINATED"


async def _check_halted(api: httpx.AsyncClient, r: dict[str, Any], language: str) -> None:
    scope = {"workflow": CAPACITY_WORKFLOW}
    assert (r["raised_by"], r["scope"]) == ("pat", scope)
    # authorize raised the SDK's own halted error, naming the halt, why and what it covers.
    assert r["refusal"] == {
        "typed": True, "status": 409, "reason": "halted", "halt_id": r["halt_id"],
        "halt_reason": f"contract test: {language}", "scope": scope,
    }  # fmt: skip
    assert r["start_halt_id"] == r["halt_id"]  # a new instance too
    assert r["listed"] is True and r["lifted_by"] == "pat"
    # Lifted: the step ran.
    assert r["ran"] is True and r["state"] == "COMPLETED"
    halt = await api.get(f"/v1/halts/{r['halt_id']}", headers=ADMIN)
    assert halt.status_code == 200, halt.text
    assert (
        halt.json()["lifted_at"] is not None and halt.json()["lift_reason"] == "contract test over"
    )
    assert (await _instance(api, r["instance_id"]))["state"] == "COMPLETED"

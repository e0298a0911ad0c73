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
    SDK and by the server (409 args_digest_mismatch).
The TypeScript and Go scenarios (sdk/typescript/scenario/contract.ts,
sdk/go/internal/scenario) print what happened as JSON; this test asserts the same of
all three, and checks the server's own record of each instance.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from gantral import sdk
from gantral.identity.settings import IdentitySettings
from gantral.sdk import _governed
from tests.integration.auth import AUDITOR, CLIENT_ID, CLIENT_SECRET, LEAD, token
from tests.integration.serving import served_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

__all__ = ["served_api"]  # the API on a real port, served from the workers' event loop

ROOT = Path(__file__).resolve().parents[2]
TS_DIR = ROOT / "sdk" / "typescript"
GO_DIR = ROOT / "sdk" / "go"
ACTION = "deploy.run"
ARGS: dict[str, Any] = {"service": "billing", "version": "2.4.1", "replicas": 3}
EDITED = {**ARGS, "version": "2.4.0"}
HUMAN = token("alice", ["TECH_LEAD", "approver", "supervisor"])
AUDITOR_TOKEN = AUDITOR["Authorization"].removeprefix("Bearer ")
RUN_TIMEOUT = 240.0


def _env(url: str, identity: IdentitySettings) -> dict[str, str]:
    assert identity.jwks_url is not None
    token_url = identity.jwks_url.rsplit("/", 1)[0] + "/token"
    return {
        "GANTRAL_URL": url,
        "GANTRAL_TOKEN_URL": token_url,
        "GANTRAL_CLIENT_ID": CLIENT_ID,
        "GANTRAL_CLIENT_SECRET": CLIENT_SECRET,
        "GANTRAL_HUMAN_TOKEN": HUMAN,
        "GANTRAL_AUDITOR_TOKEN": AUDITOR_TOKEN,
    }


async def run_process(*argv: str, cwd: Path, env: dict[str, str]) -> str:
    """A subprocess on this event loop (the API it calls is served from this loop too)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, f"{' '.join(argv)} failed:\n{err.decode()}\n{out.decode()}"
    return out.decode()


_BUILT: set[str] = set()


async def build_typescript() -> str:
    """Compiles the TypeScript SDK and its scenarios (once per session); returns the
    `node` to run them."""
    node = shutil.which("node")
    tsc = TS_DIR / "node_modules" / "typescript" / "bin" / "tsc"
    if node is None or not tsc.exists():
        pytest.fail(
            "the TypeScript SDK needs Node 20 and `npm ci` in sdk/typescript: run `make sdk`"
        )
    if node not in _BUILT:
        await run_process(node, str(tsc), "-p", "tsconfig.json", cwd=TS_DIR, env={})
        _BUILT.add(node)
    return node


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
        httpx.AsyncClient(base_url=url, headers=AUDITOR) as auditor,
    ):
        decisions: list[asyncio.Task[sdk.DecisionResult]] = []

        listed: list[bool] = []

        async def approve_from_inbox(iid: str, request: sdk.HumanRequest) -> sdk.DecisionResult:
            # The Python SDK has no inbox call yet: the approver reads it over the API.
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {HUMAN}"}
            ) as h:
                inbox = (await h.get("/v1/requests", params={"pending_for": "me"})).json()
            listed.append(any(i["request_id"] == request.request_id for i in inbox["items"]))
            seen = sdk.args_digest(request.action, request.arguments)
            return await human.decide(iid, request.request_id, "APPROVE", seen_args_digest=seen)

        def decide(iid: str, kind: str, **extra: Any) -> Any:
            def on_pending(request: sdk.HumanRequest) -> None:
                seen = sdk.args_digest(request.action, request.arguments)
                decisions.append(asyncio.ensure_future(
                    human.decide(iid, request.request_id, kind, seen_args_digest=seen, **extra)
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
        result["rejected"] = {
            "instance_id": iid, "refusal": refused.value.reason, "ran": ran_rejected,
            "state": str(state),
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
        return result


async def _sealed(auditor: httpx.AsyncClient, iid: str) -> dict[str, Any]:
    for _ in range(200):
        view = (await auditor.get(f"/v1/audit/instances/{iid}")).json()
        if view.get("sealed"):
            return dict(view)
        await asyncio.sleep(0.1)
    raise AssertionError(f"audit of {iid} not sealed in time")


@pytest.mark.parametrize("language", ["python", "typescript", "go"])
async def test_one_scenario_through_every_sdk(
    language: str, served_api: str, dev_issuer: IdentitySettings
) -> None:
    env = _env(served_api, dev_issuer)
    if language == "python":
        result = await _python(env)
    elif language == "typescript":
        result = json.loads(await _typescript(env))
    else:
        result = json.loads(await _go(env))

    async with httpx.AsyncClient(base_url=served_api, headers=LEAD) as api:
        await _check_approved(api, result["approved"])
        await _check_rejected(api, result["rejected"])
        await _check_overridden(api, result["overridden"])
        await _check_other_arguments(api, result["other_arguments"])


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


async def _check_rejected(api: httpx.AsyncClient, r: dict[str, Any]) -> None:
    assert r["refusal"] == "rejected" and r["ran"] is False
    view = await _instance(api, r["instance_id"])
    assert r["state"] == view["state"] == "TERMINATED"
    assert [d["decision_type"] for d in view["decisions"]] == ["REJECT"]
    assert view["decisions"][0]["justification"] == "not today"


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

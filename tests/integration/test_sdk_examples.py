"""The TypeScript and Go example agents run end to end against the real stack: each
asks to deploy a version of its own, a tech lead approves, the agent deploys and
completes. Missing credentials are a usage error (exit 2)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gantral.settings.identity import IdentitySettings
from tests.helpers.auth import CLIENT_ID, CLIENT_SECRET, LEAD
from tests.helpers.sdk_builds import build_typescript, run_process
from tests.helpers.serving import served_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

__all__ = ["served_api"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# Each example agent, built once per session (each test runs it): language -> its argv.
_BUILT: dict[str, list[str]] = {}


async def _typescript_agent() -> list[str]:
    if "typescript" not in _BUILT:
        node = await build_typescript()  # the SDK's dist, which the example links to
        example = EXAMPLES / "typescript"
        tsc = example / "node_modules" / "typescript" / "bin" / "tsc"
        if not tsc.exists():
            pytest.fail("the TypeScript example needs `npm ci` in examples/typescript: `make sdk`")
        await run_process(node, str(tsc), "-p", "tsconfig.json", cwd=example, env={})
        _BUILT["typescript"] = [node, str(example / "dist" / "agent-deploy.js")]
    return _BUILT["typescript"]


async def _go_agent() -> list[str]:
    if "go" not in _BUILT:
        go = shutil.which("go")
        if go is None:
            pytest.fail("the Go example needs Go (Debian's golang-go): `make sdk`")
        binary = Path(tempfile.mkdtemp(prefix="gantral-example-")) / "agent-deploy"
        await run_process(
            go, "build", "-o", str(binary), "./agent-deploy", cwd=EXAMPLES / "go",
            env={"GOPROXY": "off"},
        )  # fmt: skip
        _BUILT["go"] = [str(binary)]
    return _BUILT["go"]


async def _waiting_for(api: httpx.AsyncClient, version: str) -> tuple[str, dict[str, Any]]:
    """The instance whose pending request deploys `version`, once it waits."""
    # Only instances started since: reading every waiting one of the session is slow.
    began = datetime.now(UTC) - timedelta(seconds=2)
    async with asyncio.timeout(60):
        while True:
            page = await api.get(
                "/v1/instances",
                # The whole session's waiting instances, not only the newest page of 50.
                params={"state": "WAITING_FOR_HUMAN", "workflow": "deploy", "page_size": 500},
            )
            for item in page.json()["items"]:
                started = item.get("started_at")
                if started and datetime.fromisoformat(started) < began:
                    continue
                view = (await api.get(f"/v1/instances/{item['instance_id']}")).json()
                pending = view.get("pending_request")
                if pending and pending["arguments"].get("version") == version:
                    return view["instance_id"], pending
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("language", ["typescript", "go"])
async def test_example_agent_deploys_what_was_approved(
    language: str, served_api: str, dev_issuer: IdentitySettings
) -> None:
    argv = await (_typescript_agent() if language == "typescript" else _go_agent())
    assert dev_issuer.jwks_url is not None
    version = f"7.{uuid.uuid4().int % 1000}.{uuid.uuid4().int % 1000}"
    agent = await asyncio.create_subprocess_exec(
        *argv, "--api-url", served_api, "--workflow", "deploy",
        "--service-version", version, "--wait", "60s" if language == "go" else "60",
        "--client-id", CLIENT_ID,
        "--token-url", dev_issuer.jwks_url.rsplit("/", 1)[0] + "/token",
        env={**os.environ, "GANTRAL_AGENT_CLIENT_SECRET": CLIENT_SECRET},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=served_api, headers=LEAD) as api:
            iid, pending = await _waiting_for(api, version)
            assert pending["arguments"] == {"service": "billing", "version": version, "replicas": 3}
            decided = await api.post(
                f"/v1/instances/{iid}/decisions",
                json={"request_id": pending["request_id"],
                      "seen_args_digest": pending["args_digest"], "decision_type": "APPROVE",
                      "idempotency_key": pending["request_id"]},
            )  # fmt: skip
            assert decided.status_code == 200, decided.text
            output, _ = await asyncio.wait_for(agent.communicate(), timeout=60)
            text = output.decode()
            assert agent.returncode == 0, text
            assert pending["request_id"] in text and f"billing {version}" in text
            view = (await api.get(f"/v1/instances/{iid}")).json()
            assert view["state"] == "COMPLETED"
    finally:
        if agent.returncode is None:
            agent.kill()
            await agent.wait()


@pytest.mark.parametrize("language", ["typescript", "go"])
async def test_missing_credentials_are_a_usage_error(language: str) -> None:
    argv = await (_typescript_agent() if language == "typescript" else _go_agent())
    env = {k: v for k, v in os.environ.items() if k != "GANTRAL_AGENT_CLIENT_SECRET"}
    for extra in ([], ["--client-id", "demo-agent"]):
        process = await asyncio.create_subprocess_exec(
            *argv, *extra, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await process.communicate()
        assert process.returncode == 2, err.decode()
        assert b"credentials" in err or b"GANTRAL_AGENT_CLIENT_SECRET" in err

"""The Python SDK from its built wheel, in an empty virtualenv, against the real stack.

What a new user does: build `gantral-sdk`'s wheel (`pip wheel --no-deps ./sdk/python`),
install it into a fresh virtualenv (its dependencies, httpx, pydantic and rfc8785, come
from the package index or pip's cache), and run a governed step from a directory outside
the repository. The server (gantral, Temporal, FastAPI) is not installed there and the SDK
must not need it. The TypeScript SDK's analogue: sdk/typescript/test/pack.test.ts.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import gantral_sdk as sdk
import pytest

from tests.helpers.auth import token
from tests.helpers.serving import served_api
from tests.helpers.wheels import SDK, built_wheel

__all__ = ["served_api"]  # the API on a real port, served from the workers' event loop

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# What `pip install gantral-sdk` may bring: the SDK, its three dependencies and theirs.
ALLOWED = {
    "gantral-sdk", "httpx", "httpcore", "h11", "anyio", "idna", "sniffio", "certifi",
    "pydantic", "pydantic-core", "annotated-types", "typing-extensions", "typing-inspection",
    "rfc8785", "pip", "setuptools", "exceptiongroup",
}  # fmt: skip

CHECK = """
import importlib.metadata, importlib.util, json, pathlib, gantral_sdk
meta = importlib.metadata.distribution("gantral-sdk")
print(json.dumps({
    "licence": meta.metadata["License-Expression"],
    "licence_file": any(f.name == "LICENSE" for f in meta.files or []),
    "file": gantral_sdk.__file__,
    "typed": (pathlib.Path(gantral_sdk.__file__).parent / "py.typed").is_file(),
    "server": [m for m in ("gantral", "api", "workers", "temporalio", "fastapi", "uvicorn")
               if importlib.util.find_spec(m) is not None],
}))
"""

# An agent: plan (runs freely), then deploy, which waits for a tech lead's approval and
# runs exactly the approved arguments. Prints the instance id as soon as it has one.
AGENT = """
import json, os, sys
import gantral_sdk as sdk

auth = sdk.BearerToken(os.environ["GANTRAL_TOKEN"])
with sdk.GantralClient(os.environ["GANTRAL_URL"], auth=auth) as gc:
    iid = gc.start_instance("deploy", "payments", {"from": "wheel"}).instance_id
    print(iid, flush=True)
    with gc.governed_step(iid, "plan") as plan:
        pass
    args = {"service": "billing", "version": "5.0.0"}
    with gc.governed_step(iid, "deploy", action="deploy.run", arguments=args, wait=60) as step:
        ran = dict(step.arguments)
    final = gc.complete(iid)
print(json.dumps({
    "plan": plan.outcome, "deploy": step.outcome, "ran": ran,
    "digest_ok": step.args_digest == sdk.args_digest("deploy.run", ran),
    "state": str(final.state), "model": type(final).__module__,
}))
"""


def _run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stderr}\n{done.stdout}"
    return done


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `python` of an empty virtualenv holding only the SDK's wheel and its deps."""
    base = tmp_path_factory.mktemp("sdk-wheel")
    wheel = built_wheel(SDK, "gantral_sdk")
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    return python


def test_the_wheel_installs_alone_typed_and_without_the_server(sdk_python: Path) -> None:
    home = sdk_python.parents[2] / "home"  # not the source tree: nothing imported from it
    home.mkdir(exist_ok=True)
    facts = json.loads(_run(sdk_python, "-c", CHECK, cwd=home).stdout)
    assert facts["file"].startswith(str(sdk_python.parents[1])), facts["file"]
    assert facts["typed"], "py.typed is missing from the wheel"
    assert facts["server"] == []
    listed = _run(sdk_python, "-m", "pip", "list", "--format", "json").stdout
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert "gantral-sdk" in installed
    assert installed <= ALLOWED, f"more than the SDK's dependencies: {installed - ALLOWED}"
    assert facts["licence"] == "Apache-2.0" and facts["licence_file"]


@pytest.mark.asyncio(loop_scope="session")
async def test_the_wheel_runs_a_governed_step_on_the_real_stack(
    sdk_python: Path, served_api: str
) -> None:
    agent_id = f"wheel-agent-{uuid.uuid4().hex[:8]}"
    home = sdk_python.parents[2] / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GANTRAL_URL": served_api,
        "GANTRAL_TOKEN": token(agent_id, agent=True),
    }
    agent = await asyncio.create_subprocess_exec(
        sdk_python, "-c", AGENT, cwd=home, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert agent.stdout is not None
    try:
        iid = (await asyncio.wait_for(agent.stdout.readline(), timeout=60)).decode().strip()
        assert iid, (await agent.communicate())[1].decode()
        lead = sdk.BearerToken(token("alice", ["TECH_LEAD", "approver"]))
        async with sdk.AsyncGantralClient(served_api, auth=lead) as human:
            async with asyncio.timeout(60):
                while (view := await human.get_instance(iid)).pending_request is None:
                    await asyncio.sleep(0.2)
            await human.decide(iid, view.pending_request, "APPROVE", justification="ok")
            out, err = await asyncio.wait_for(agent.communicate(), timeout=120)
            assert agent.returncode == 0, err.decode()
            final = await human.get_instance(iid)
    finally:
        if agent.returncode is None:
            agent.kill()
            await agent.wait()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result == {
        "plan": "ALLOW", "deploy": "APPROVED",
        "ran": {"service": "billing", "version": "5.0.0"}, "digest_ok": True,
        "state": "COMPLETED", "model": "gantral_sdk._types_gen",
    }  # fmt: skip
    # The server's own record agrees: the agent it saw, and the end it recorded.
    assert final.state is sdk.State.COMPLETED and final.started_by.id == agent_id

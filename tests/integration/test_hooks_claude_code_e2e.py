"""Claude Code itself, governed by `gantral hook claude-code`: the real `claude` CLI (npm's
`@anthropic-ai/claude-code`) runs headless against a scripted model (Anthropic's Messages
API on a local port) that asks for one Bash call; the hook, installed in the project's
settings by `gantral hook install`, asks the real API. What reached the model (the
tool's output, or the denial with its reason) is read from the model's next request.

Skips, saying why, when the CLI is not installed: `make claude-code` installs it into
.data/tools/claude-code (or point GANTRAL_CLAUDE_CODE at a `claude` binary)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gantral.domain.states import State
from tests.helpers.auth import ADMIN, AUDITOR, LEAD, token
from tests.helpers.integrations_support import AGENT_ID, alice_client, next_request
from tests.helpers.scripted_model import ScriptedModel, scripted_model
from tests.helpers.serving import served_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

__all__ = ["served_api"]

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = ROOT / ".data" / "tools" / "claude-code" / "node_modules" / ".bin" / "claude"


def claude_binary() -> str:
    named = os.environ.get("GANTRAL_CLAUDE_CODE")
    if named:
        return named
    if INSTALLED.exists():
        return str(INSTALLED)
    found = shutil.which("claude")
    if found is None:
        pytest.skip(
            "Claude Code is not installed: `make claude-code` (npm install of "
            "@anthropic-ai/claude-code into .data/tools/claude-code), or set "
            "GANTRAL_CLAUDE_CODE to a `claude` binary"
        )
    return found


TEMPLATE = """\
id: {wid}
steps:
  - id: shell
  - id: push
    policy:
      materiality: MEDIUM
      requires_human_approval: true
      approvers: [{{role: TECH_LEAD}}]
"""


class Project:
    """A project with the hook installed, and a way to run Claude Code headless in it."""

    def __init__(self, tmp: Path, url: str, wid: str) -> None:
        self.dir = tmp / "project"
        self.dir.mkdir()
        self.home = tmp / "home"
        self.home.mkdir()
        config = tmp / "gantral-hooks.yaml"
        config.write_text(yaml.safe_dump({
            "gantral": {"url": url, "token": "env:GANTRAL_AGENT_TOKEN"},
            "workflow": wid, "team": "payments", "wait": 60, "unmapped": "deny",
            "tools": [
                {"match": "Bash", "input_match": {"command": "^git push"}, "step": "push",
                 "arguments": ["command"]},
                {"match": "Bash", "step": "shell", "arguments": ["command"]},
            ],
        }))  # fmt: skip
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home)}
        subprocess.run(
            [str(Path(sys.executable).parent / "gantral"), "hook", "install", "claude-code",
             "--project", str(self.dir), "--config", str(config)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        self.env = {
            **env,
            "GANTRAL_AGENT_TOKEN": token(AGENT_ID, agent=True),
            "GANTRAL_HOOK_STATE_DIR": str(tmp / "state"),
            "ANTHROPIC_API_KEY": "sk-ant-scripted",  # the scripted model checks nothing
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
        }

    async def claude(self, model: ScriptedModel) -> dict[str, Any]:
        """One headless run (`claude -p`); its JSON result."""
        # In a session of its own: a signal the CLI or its hooks send their process group
        # never reaches the test process, whose in-process servers (the API it calls)
        # stop on SIGINT and SIGTERM.
        proc = await asyncio.create_subprocess_exec(
            claude_binary(), "-p", "Do the task.", "--output-format", "json",
            "--max-turns", "3", cwd=self.dir, env={**self.env, "ANTHROPIC_BASE_URL": model.url},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 180)
        assert proc.returncode == 0, (out.decode()[-2000:], err.decode()[-2000:])
        result: dict[str, Any] = json.loads(out)
        return result


async def publish(api: httpx.AsyncClient) -> str:
    wid = f"cc-e2e-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": "application/yaml", **ADMIN}
    resp = await api.put(f"/v1/workflows/{wid}", content=TEMPLATE.format(wid=wid), headers=headers)
    assert resp.status_code in (200, 201), resp.text
    return wid


async def session_instance(api: httpx.AsyncClient, wid: str) -> dict[str, Any]:
    resp = await api.get("/v1/instances", params={"workflow": wid}, headers=LEAD)
    assert resp.status_code == 200, resp.text
    (item,) = resp.json()["items"]
    view: dict[str, Any] = (
        await api.get(f"/v1/instances/{item['instance_id']}", headers=LEAD)
    ).json()
    return view


async def audit_kinds(api: httpx.AsyncClient, iid: str, until: str) -> list[str]:
    kinds: list[str] = []
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200:
            kinds = [e["payload"].get("kind", e["type"]) if e["type"] == "AGENT_EVENT"
                     else e["type"] for e in resp.json()["events"]]  # fmt: skip
            if until in kinds:
                break
        await asyncio.sleep(0.2)
    return kinds


async def test_an_allowed_command_runs_and_its_output_reaches_the_model(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    claude_binary()
    wid = await publish(api)
    project = Project(tmp_path, served_api, wid)
    marker = f"gantral-e2e-{uuid.uuid4().hex[:8]}"
    with scripted_model(ScriptedModel("Bash", {"command": f"echo {marker}",
                                               "description": "say it"})) as model:  # fmt: skip
        result = await project.claude(model)
    (outcome,) = model.tool_results()
    assert not outcome.get("is_error"), outcome
    assert marker in json.dumps(outcome["content"])  # the command ran; its output came back
    assert result["result"] == "Done." and not result["permission_denials"]
    view = await session_instance(api, wid)
    assert view["trigger_context"]["session_id"] == result["session_id"]
    kinds = await audit_kinds(api, view["instance_id"], "STEP_COMPLETED")
    assert {"GRANT_USED", "STEP_STARTED", "STEP_COMPLETED"} <= set(kinds), kinds
    # The run's end (SessionEnd) completed the session's instance.
    for _ in range(50):
        if (await session_instance(api, wid))["state"] == State.COMPLETED:
            break
        await asyncio.sleep(0.2)
    assert (await session_instance(api, wid))["state"] == State.COMPLETED


async def test_a_rejected_command_never_runs_and_the_model_gets_the_reason(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    claude_binary()
    wid = await publish(api)
    project = Project(tmp_path, served_api, wid)
    ran = tmp_path / "pushed"
    command = f"git push --force origin main; touch {ran}"
    with scripted_model(ScriptedModel("Bash", {"command": command,
                                               "description": "push"})) as model:  # fmt: skip
        run = asyncio.create_task(project.claude(model))
        async with alice_client(api) as alice:
            item = await next_request(alice, wid, timeout=120)
            assert item.step_id == "push" and item.arguments == {"command": command}
            await alice.decide(
                item.instance_id, item.request_id, "REJECT", justification="no force pushes",
                seen_args_digest=item.args_digest,
            )  # fmt: skip
        result = await run
    (outcome,) = model.tool_results()
    assert outcome.get("is_error") is True, outcome
    assert "REJECTED by alice: no force pushes" in json.dumps(outcome["content"])
    assert not ran.exists()  # Claude Code did not run it
    assert [d["tool_name"] for d in result["permission_denials"]] == ["Bash"]
    view = await session_instance(api, wid)
    assert view["state"] == State.TERMINATED
    assert "DECISION_RECORDED" in await audit_kinds(api, view["instance_id"], "DECISION_RECORDED")

"""`gantral hook claude-code` on the real stack: the hook runs as Claude Code runs it (a
process per event, the event's JSON on stdin, payloads shaped as its hooks reference
shows), asks the API on a real port with the agent's token from the environment, and a
tech lead decides from their inbox."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import gantral_sdk as sdk
import httpx
import pytest
import yaml

from gantral.domain.states import State
from tests.helpers.auth import ADMIN, AUDITOR, LEAD, token
from tests.helpers.integrations_support import AGENT_ID, alice_client, next_request, whole_inbox
from tests.helpers.serving import served_api

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

__all__ = ["served_api"]  # the API on a real port, served from the workers' event loop

TEMPLATE = """\
id: {wid}
steps:
  - id: shell
  - id: push
    policy:
      materiality: MEDIUM
      requires_human_approval: true
      approvers: [{{role: TECH_LEAD}}]
      override_roles: [TECH_LEAD]
"""


async def publish(api: httpx.AsyncClient) -> str:
    wid = f"hooks-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": "application/yaml", **ADMIN}
    resp = await api.put(f"/v1/workflows/{wid}", content=TEMPLATE.format(wid=wid), headers=headers)
    assert resp.status_code in (200, 201), resp.text
    return wid


class Hook:
    """Claude Code's side: one session, its mapping file, and a process per event."""

    def __init__(self, tmp: Path, url: str, wid: str, wait: float = 60) -> None:
        self.tmp = tmp
        self.session = f"sess-{uuid.uuid4().hex}"
        self.config = tmp / "gantral-hooks.yaml"
        self.config.write_text(
            yaml.safe_dump({
                "gantral": {"url": url, "token": "env:GANTRAL_AGENT_TOKEN"},
                "workflow": wid,
                "team": "payments",
                "wait": wait,
                "unmapped": "ask",
                "tools": [
                    {"match": "Bash", "input_match": {"command": "^git push"}, "step": "push",
                     "arguments": ["command"]},
                    {"match": "Bash", "step": "shell", "arguments": ["command"]},
                ],
            })
        )  # fmt: skip
        self.env = {
            "PATH": os.environ["PATH"], "HOME": str(tmp),
            "GANTRAL_AGENT_TOKEN": token(AGENT_ID, agent=True),
            "GANTRAL_HOOK_STATE_DIR": str(tmp / "state"),
        }  # fmt: skip

    def payload(self, event: str, **fields: Any) -> dict[str, Any]:
        return {
            "session_id": self.session,
            "transcript_path": f"/home/dev/.claude/projects/p/{self.session}.jsonl",
            "cwd": str(self.tmp),
            "permission_mode": "default",
            "hook_event_name": event,
            **fields,
        }

    async def run(self, payload: dict[str, Any]) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gantral.integrations.hooks", "claude-code",
            "--config", str(self.config), env=self.env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(payload).encode()), 120)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def bash(self, command: str, use_id: str | None = None) -> dict[str, Any]:
        """PreToolUse for a Bash call: the decision Claude Code would read."""
        payload = self.payload(
            "PreToolUse", tool_name="Bash",
            tool_input={"command": command, "description": "run it"},
            tool_use_id=use_id or f"toolu_{uuid.uuid4().hex[:12]}",
        )  # fmt: skip
        code, out, err = await self.run(payload)
        assert code == 0, err
        answer: dict[str, Any] = json.loads(out)["hookSpecificOutput"]
        assert answer["hookEventName"] == "PreToolUse"
        return answer


async def instances(api: httpx.AsyncClient, wid: str) -> list[dict[str, Any]]:
    resp = await api.get("/v1/instances", params={"workflow": wid}, headers=LEAD)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def audit_types(api: httpx.AsyncClient, iid: str, until: str, count: int = 1) -> list[str]:
    """The instance's audit event types, once `until` is there `count` times (the sink
    writes in the background)."""
    types: list[str] = []
    for _ in range(100):
        resp = await api.get(f"/v1/audit/instances/{iid}", headers=AUDITOR)
        if resp.status_code == 200:
            events = resp.json()["events"]
            # An agent event is named by its kind: STEP_STARTED, STEP_COMPLETED, ...
            types = [e["payload"].get("kind", e["type"]) if e["type"] == "AGENT_EVENT"
                     else e["type"] for e in events]  # fmt: skip
            if types.count(until) >= count:
                break
        await asyncio.sleep(0.2)
    return types


async def test_allowed_command_runs_and_the_session_is_one_instance(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    wid = await publish(api)
    hook = Hook(tmp_path, served_api, wid)
    first = await hook.bash("ls -la", "toolu_1")
    assert first["permissionDecision"] == "allow", first
    assert "allowed by policy" in first["permissionDecisionReason"]
    code, out, _ = await hook.run(hook.payload(
        "PostToolUse", tool_name="Bash", tool_input={"command": "ls -la"},
        tool_use_id="toolu_1", tool_response={"stdout": "a b", "stderr": ""},
    ))  # fmt: skip
    assert (code, out) == (0, "")
    # Two calls at once (Claude Code runs hooks in parallel): same session, same instance.
    both = await asyncio.gather(hook.bash("pwd"), hook.bash("echo hi"))
    assert [a["permissionDecision"] for a in both] == ["allow", "allow"]
    found = await instances(api, wid)
    assert len(found) == 1
    iid = found[0]["instance_id"]
    code, _, err = await hook.run(hook.payload("SessionEnd", reason="prompt_input_exit"))
    assert code == 0, err
    view = (await api.get(f"/v1/instances/{iid}", headers=LEAD)).json()
    assert view["state"] == State.COMPLETED
    assert view["trigger_context"]["session_id"] == hook.session
    types = await audit_types(api, iid, "GRANT_USED", 3)
    assert types.count("GRANT_USED") == 3  # every allow was reported started with its grant
    assert types.count("STEP_STARTED") == 3
    assert types.count("STEP_COMPLETED") == 1  # PostToolUse of toolu_1 only
    assert "VIOLATION" not in types


async def test_governed_command_waits_for_a_human_who_approves(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    wid = await publish(api)
    hook = Hook(tmp_path, served_api, wid)
    async with alice_client(api) as alice:
        asked = asyncio.create_task(hook.bash("git push origin main"))
        item = await next_request(alice, wid)
        assert item.step_id == "push" and item.action == "Bash"
        assert item.arguments == {"command": "git push origin main"}
        await alice.decide(
            item.instance_id, item.request_id, "APPROVE", seen_args_digest=item.args_digest
        )
        answer = await asked
    assert answer["permissionDecision"] == "allow", answer
    assert "approved by alice" in answer["permissionDecisionReason"]
    assert item.request_id in answer["permissionDecisionReason"]
    assert "GRANT_USED" in await audit_types(api, item.instance_id, "GRANT_USED")


async def test_rejected_command_is_denied_with_the_reason_and_the_next_call_goes_on(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    wid = await publish(api)
    hook = Hook(tmp_path, served_api, wid)
    async with alice_client(api) as alice:
        asked = asyncio.create_task(hook.bash("git push --force origin main"))
        item = await next_request(alice, wid)
        await alice.decide(
            item.instance_id, item.request_id, "REJECT", justification="no force pushes",
            seen_args_digest=item.args_digest,
        )  # fmt: skip
        answer = await asked
    assert answer["permissionDecision"] == "deny", answer
    reason = answer["permissionDecisionReason"]
    assert "REJECTED by alice: no force pushes" in reason and "not made" in reason
    # The rejection ended that instance; the session's next call gets the next one.
    after = await hook.bash("ls")
    assert after["permissionDecision"] == "allow", after
    found = {i["instance_id"]: i["state"] for i in await instances(api, wid)}
    assert len(found) == 2 and found[item.instance_id] == State.TERMINATED


async def test_no_decision_in_time_denies_and_cancels_the_request(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    wid = await publish(api)
    hook = Hook(tmp_path, served_api, wid, wait=3)
    answer = await hook.bash("git push origin main")
    assert answer["permissionDecision"] == "deny", answer
    assert "no decision" in answer["permissionDecisionReason"]
    (instance,) = await instances(api, wid)
    # Cancelled: the request left the inbox and a late approval cannot grant anything.
    assert instance["state"] == State.TERMINATED
    async with alice_client(api) as alice:
        inbox = await whole_inbox(alice)
    assert all(i.workflow_id != wid for i in inbox)


async def test_override_runs_the_edited_command(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    wid = await publish(api)
    hook = Hook(tmp_path, served_api, wid)
    async with alice_client(api) as alice:
        asked = asyncio.create_task(hook.bash("git push --force origin main"))
        item = await next_request(alice, wid)
        await alice.decide(
            item.instance_id, item.request_id, "OVERRIDE", justification="no force",
            context_delta={"command": "git push origin main"},
            seen_args_digest=item.args_digest,
        )  # fmt: skip
        answer = await asked
    assert answer["permissionDecision"] == "allow", answer
    assert answer["updatedInput"] == {"command": "git push origin main", "description": "run it"}


async def test_unreachable_gantral_denies(tmp_path: Path) -> None:
    hook = Hook(tmp_path, "http://127.0.0.1:9", "nowhere")
    answer = await hook.bash("ls")
    assert answer["permissionDecision"] == "deny"
    assert "unreachable" in answer["permissionDecisionReason"]


async def test_hook_killed_while_waiting_cancels_the_request(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    wid = await publish(api)
    hook = Hook(tmp_path, served_api, wid)
    payload = hook.payload(
        "PreToolUse", tool_name="Bash", tool_input={"command": "git push origin main"},
        tool_use_id="toolu_k",
    )  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gantral.integrations.hooks", "claude-code",
        "--config", str(hook.config), env=hook.env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(payload).encode())
    proc.stdin.close()
    async with alice_client(api) as alice:
        item = await next_request(alice, wid)
        proc.terminate()  # what the harness does on interrupt or its own timeout
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        answer = json.loads(out)["hookSpecificOutput"]
        assert answer["permissionDecision"] == "deny"
        view = (await api.get(f"/v1/instances/{item.instance_id}", headers=LEAD)).json()
        assert view["state"] == State.TERMINATED
        with pytest.raises(sdk.Conflict):  # a late approval cannot grant anything
            await alice.decide(
                item.instance_id, item.request_id, "APPROVE", seen_args_digest=item.args_digest
            )


async def run_hook(harness: str, hook: Hook, payload: dict[str, Any]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gantral.integrations.hooks", harness,
        "--config", str(hook.config), env=hook.env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(json.dumps(payload).encode()), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cursor_conversation_is_one_instance_and_session_end_completes_it(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    wid = await publish(api)
    hook = Hook(tmp_path, served_api, wid)
    config = yaml.safe_load(hook.config.read_text())
    for rule in config["tools"]:
        rule["match"] = "Shell"  # Cursor's name for a shell command
    hook.config.write_text(yaml.safe_dump(config))
    common = {"conversation_id": hook.session, "generation_id": "g-1",
              "workspace_roots": [str(tmp_path)]}  # fmt: skip
    shell = {**common, "hook_event_name": "beforeShellExecution", "command": "ls",
             "cwd": str(tmp_path)}  # fmt: skip
    code, out, err = await run_hook("cursor", hook, shell)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["permission"] == "allow" and "allowed by policy" in answer["agent_message"]
    (instance,) = await instances(api, wid)
    code, out, err = await run_hook("cursor", hook, {**common, "hook_event_name": "sessionEnd",
                                                     "reason": "completed"})  # fmt: skip
    assert (code, out) == (0, ""), err
    view = (await api.get(f"/v1/instances/{instance['instance_id']}", headers=LEAD)).json()
    assert view["state"] == State.COMPLETED
    assert "GRANT_USED" in await audit_types(api, instance["instance_id"], "GRANT_USED")


async def test_codex_cannot_run_an_edit_so_an_override_is_denied_and_its_grant_dies(
    served_api: str, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    wid = await publish(api)
    hook = Hook(tmp_path, served_api, wid)
    payload = {**hook.payload("PreToolUse", tool_name="Bash",
                              tool_input={"command": "git push --force origin main"},
                              tool_use_id="call_1"),
               "turn_id": "t-1", "model": "gpt-5-codex"}  # fmt: skip
    async with alice_client(api) as alice:
        asked = asyncio.create_task(run_hook("codex", hook, payload))
        item = await next_request(alice, wid)
        await alice.decide(
            item.instance_id, item.request_id, "OVERRIDE", justification="no force",
            context_delta={"command": "git push origin main"},
            seen_args_digest=item.args_digest,
        )  # fmt: skip
        code, out, err = await asked
    assert code == 0, err
    answer = json.loads(out)["hookSpecificOutput"]
    assert answer["permissionDecision"] == "deny"
    assert "git push origin main" in answer["permissionDecisionReason"]
    view = (await api.get(f"/v1/instances/{item.instance_id}", headers=LEAD)).json()
    assert view["state"] == State.TERMINATED  # cancelled: the edit's grant cannot be used
    assert "GRANT_USED" not in await audit_types(api, item.instance_id, "GRANT_USED", 0)
    # Allowed by policy: Codex is told nothing (its own approval policy applies).
    code, out, err = await run_hook("codex", hook, {**payload, "tool_input": {"command": "ls"}})
    assert (code, out) == (0, ""), err

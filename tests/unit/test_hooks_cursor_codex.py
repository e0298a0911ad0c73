"""`gantral hook cursor` and `gantral hook codex` without a stack: the payload shapes of
Cursor's and Codex's hooks documentation (malformed ones too), each answered in its
harness's decision format; unmapped calls, an unreachable Gantral; installing the hook
into a Cursor hooks file that already has hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gantral.integrations.hooks import claude_code, codex, cursor
from gantral.integrations.hooks.install import install_cursor, is_ours, uninstall_cursor

GANTRAL = Path(sys.executable).parent / "gantral"


def mapping(tmp: Path, **extra: Any) -> Path:
    config = {
        "gantral": {"url": "http://127.0.0.1:9", "token": "env:GANTRAL_TOKEN", "timeout": 2},
        "workflow": "coding-agent",
        "team": "payments",
        "wait": 5,
        "tools": [
            {"match": "Shell|Bash", "step": "shell", "arguments": ["command"]},
            {"match": "MCP:create_issue|mcp__github__.*", "step": "github",
             "on_unreachable": "ask"},
            {"match": "Read", "input_match": {"file_path": r"\.env$"}, "step": "secrets"},
        ],
        **extra,
    }  # fmt: skip
    path = tmp / "gantral-hooks.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(autouse=True)
def _environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GANTRAL_TOKEN", "t")
    monkeypatch.setenv("GANTRAL_HOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("GANTRAL_HOOK_CONFIG", raising=False)


def run(
    tmp: Path, harness: str, stdin: str, config: Path | None, *, cli: bool = False
) -> subprocess.CompletedProcess[str]:
    """The hook's answer to one event: in this process (each `gantral` start-up costs
    seconds), or through the command itself where `cli` says so."""
    args = [str(GANTRAL), "hook", harness] + (["--config", str(config)] if config else [])
    if cli:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "GANTRAL_TOKEN": "t",
               "GANTRAL_HOOK_STATE_DIR": str(tmp / "state")}  # fmt: skip
        return subprocess.run(
            args, input=stdin, capture_output=True, text=True, env=env, timeout=60
        )
    handlers = {"claude-code": claude_code.handle, "codex": codex.handle, "cursor": cursor.handle}
    result = handlers[harness](stdin, config)
    return subprocess.CompletedProcess(args, result.code, result.stdout, result.stderr)


# Cursor: shapes from its hooks documentation.
COMMON = {
    "conversation_id": "668320d2-2fd8-4888-b33c-2a466fec86e7",
    "generation_id": "490b90b7-a2ce-4c2c-bb76-cb77b125df2f",
    "workspace_roots": ["/Users/dev/project"],
    "model": "claude-sonnet-4", "cursor_version": "1.7.2", "user_email": "dev@example.com",
}  # fmt: skip
SHELL = {**COMMON, "hook_event_name": "beforeShellExecution", "command": "git status",
         "cwd": "/Users/dev/project"}  # fmt: skip
MCP = {**COMMON, "hook_event_name": "beforeMCPExecution", "tool_name": "create_issue",
       "tool_input": json.dumps({"title": "x"}), "url": "https://mcp.example.com/mcp"}  # fmt: skip
READ = {**COMMON, "hook_event_name": "beforeReadFile", "file_path": "/Users/dev/project/.env",
        "content": "API_KEY=s3cr3t", "attachments": []}  # fmt: skip


def cursor_answer(done: subprocess.CompletedProcess[str], code: int = 0) -> dict[str, Any]:
    assert done.returncode == code, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    assert out["permission"] in ("allow", "deny", "ask")
    assert out["user_message"] == out["agent_message"] == out["userMessage"]
    return out


def test_cursor_malformed_input_is_a_block_with_exit_2(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    out = cursor_answer(run(tmp_path, "cursor", "{not json", config, cli=True), code=2)
    assert out["permission"] == "deny"
    for stdin in ("", "{not json", "[1, 2]", "null"):
        out = cursor_answer(run(tmp_path, "cursor", stdin, config), code=2)
        assert out["permission"] == "deny" and "blocked" in out["agent_message"], stdin
    broken = [
        {**SHELL, "command": None},
        {k: v for k, v in MCP.items() if k != "tool_name"},
        {**MCP, "tool_input": "{not json"},
        {**READ, "file_path": 7},
    ]
    for payload in broken:
        out = cursor_answer(run(tmp_path, "cursor", json.dumps(payload), config), code=2)
        assert out["permission"] == "deny", payload


def test_cursor_governed_calls_fail_closed_when_gantral_is_unreachable(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    out = cursor_answer(run(tmp_path, "cursor", json.dumps(SHELL), config))
    assert out["permission"] == "deny" and "unreachable" in out["agent_message"]
    assert "'Shell'" in out["agent_message"]
    # MCP arguments as a string (older Cursor) or an object: both are the tool's input.
    for payload in (MCP, {**MCP, "tool_input": {"title": "x"}}):
        out = cursor_answer(run(tmp_path, "cursor", json.dumps(payload), config))
        assert out["permission"] == "ask" and "MCP:create_issue" in out["agent_message"]
    # A read cannot be asked about: the rule's `ask` becomes a deny; the content is never sent.
    out = cursor_answer(run(tmp_path, "cursor", json.dumps(READ), config))
    assert out["permission"] == "deny" and "s3cr3t" not in out["agent_message"]


def test_cursor_missing_session_and_non_object_arguments_deny(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    no_session = {k: v for k, v in SHELL.items() if k != "conversation_id"}
    out = cursor_answer(run(tmp_path, "cursor", json.dumps(no_session), config))
    assert out["permission"] == "deny" and "no session_id" in out["agent_message"]
    listed = {**MCP, "tool_input": json.dumps([1, 2])}
    out = cursor_answer(run(tmp_path, "cursor", json.dumps(listed), config))
    assert out["permission"] == "deny" and "no tool_input object" in out["agent_message"]


@pytest.mark.parametrize("default", ["allow", "ask", "deny"])
def test_cursor_unmapped_calls_get_the_default(tmp_path: Path, default: str) -> None:
    config = mapping(tmp_path, unmapped=default)
    out = cursor_answer(run(tmp_path, "cursor", json.dumps({**READ, "file_path": "/a.py"}), config))
    assert out["permission"] == ("deny" if default == "ask" else default)
    mcp = {**MCP, "tool_name": "list_issues"}
    out = cursor_answer(run(tmp_path, "cursor", json.dumps(mcp), config))
    assert out["permission"] == default and "not governed" in out["agent_message"]


def test_cursor_other_events_are_quiet_and_a_bad_mapping_denies(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    quiet = [
        {**COMMON, "hook_event_name": "afterShellExecution", "command": "ls", "output": "a"},
        {**COMMON, "hook_event_name": "afterFileEdit", "file_path": "/a", "edits": []},
        {**COMMON, "hook_event_name": "stop", "status": "completed", "loop_count": 0},
        {**COMMON, "hook_event_name": "sessionEnd", "reason": "completed"},
        {**COMMON, "hook_event_name": "beforeSubmitPrompt", "prompt": "hi"},
    ]
    for payload in quiet:
        done = run(tmp_path, "cursor", json.dumps(payload), config)
        assert (done.returncode, done.stdout) == (0, ""), payload
    out = cursor_answer(run(tmp_path, "cursor", json.dumps(SHELL), tmp_path / "absent.yaml"))
    assert out["permission"] == "deny" and "misconfigured" in out["agent_message"]
    # No --config: the workspace's .cursor/gantral-hooks.yaml.
    (tmp_path / ".cursor").mkdir()
    (tmp_path / ".cursor" / "gantral-hooks.yaml").write_text(
        yaml.safe_dump({**yaml.safe_load(config.read_text()), "unmapped": "allow"})
    )
    ls = {**SHELL, "workspace_roots": [str(tmp_path)], "hook_event_name": "beforeReadFile",
          "file_path": "/x.py"}  # fmt: skip
    assert cursor_answer(run(tmp_path, "cursor", json.dumps(ls), None))["permission"] == "allow"


# Codex: Claude Code's wire format; only `deny` (or exit 2) is honoured.
def codex_pre(tool: str = "Bash", tool_input: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "session_id": "019a5d5e-7e3b-7c52-9b1e-3b0c2a6f4e11", "turn_id": "t-1",
        "transcript_path": None, "cwd": "/home/dev/p", "hook_event_name": "PreToolUse",
        "model": "gpt-5-codex", "permission_mode": "default", "tool_name": tool,
        "tool_input": {"command": "git status"} if tool_input is None else tool_input,
        "tool_use_id": "call_A1", **extra,
    }  # fmt: skip


def codex_denial(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)["hookSpecificOutput"]
    assert (out["hookEventName"], out["permissionDecision"]) == ("PreToolUse", "deny")
    assert set(out) == {"hookEventName", "permissionDecision", "permissionDecisionReason"}
    reason: str = out["permissionDecisionReason"]
    return reason


def test_codex_malformed_input_blocks_with_exit_2(tmp_path: Path) -> None:
    for stdin in ("", "{not json", "[1, 2]", "null"):
        done = run(tmp_path, "codex", stdin, mapping(tmp_path))
        assert done.returncode == 2 and done.stdout == "" and "blocked" in done.stderr


def test_codex_denies_what_fails_closed(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    done = run(tmp_path, "codex", json.dumps(codex_pre()), config, cli=True)
    assert "unreachable" in codex_denial(done)
    for payload, said in [
        ({**codex_pre(), "tool_name": None}, "no tool_name"),
        (codex_pre(tool_input="git status"), "no tool_input"),
        ({k: v for k, v in codex_pre().items() if k != "session_id"}, "no session_id"),
    ]:
        assert said in codex_denial(run(tmp_path, "codex", json.dumps(payload), config))
    bad = tmp_path / "absent.yaml"
    assert "misconfigured" in codex_denial(run(tmp_path, "codex", json.dumps(codex_pre()), bad))


def test_codex_allow_and_ask_say_nothing(tmp_path: Path) -> None:
    # Codex fails open on `allow`/`ask` output it does not support: the hook answers
    # nothing, and Codex's own approval policy applies.
    mcp = codex_pre("mcp__github__create_issue", {"title": "x"})
    done = run(tmp_path, "codex", json.dumps(mcp), mapping(tmp_path))  # unreachable: ask
    assert (done.returncode, done.stdout) == (0, "")
    patch = codex_pre("apply_patch", {"command": "*** Begin Patch\n*** End Patch\n"})
    done = run(tmp_path, "codex", json.dumps(patch), mapping(tmp_path, unmapped="allow"))
    assert (done.returncode, done.stdout) == (0, "")
    reason = codex_denial(
        run(tmp_path, "codex", json.dumps(patch), mapping(tmp_path, unmapped="deny"))
    )
    assert "not governed" in reason


def test_codex_other_events_are_quiet(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    for payload in [
        {**codex_pre(), "hook_event_name": "PostToolUse", "tool_response": "ok"},
        {"session_id": "s", "hook_event_name": "SessionStart", "source": "startup"},
        {"session_id": "s", "hook_event_name": "Stop", "stop_hook_active": False},
        {"session_id": "s", "hook_event_name": "UserPromptSubmit", "prompt": "hi"},
        {**codex_pre(), "hook_event_name": "PermissionRequest"},
    ]:
        done = run(tmp_path, "codex", json.dumps(payload), config)
        assert (done.returncode, done.stdout) == (0, ""), payload


EXISTING = {
    "version": 1,
    "hooks": {
        "beforeShellExecution": [{"command": "./audit.sh"}],
        "afterFileEdit": [{"command": "./format.sh"}],
    },
}


def test_cursor_install_merges_and_uninstall_removes_exactly_what_it_added(
    tmp_path: Path,
) -> None:
    hooks_file = tmp_path / ".cursor" / "hooks.json"
    hooks_file.parent.mkdir()
    hooks_file.write_text(json.dumps(EXISTING))
    command = "/v/bin/python -m gantral.integrations.hooks cursor --config /p/m.yaml"
    assert install_cursor(hooks_file, command, 300) is True
    once = json.loads(hooks_file.read_text())
    assert install_cursor(hooks_file, command, 300) is False
    assert once["hooks"]["beforeShellExecution"] == [
        {"command": "./audit.sh"}, {"command": command, "timeout": 330}
    ]  # fmt: skip
    assert once["hooks"]["beforeMCPExecution"] == [{"command": command, "timeout": 330}]
    assert once["hooks"]["sessionEnd"] == [{"command": command, "timeout": 30}]
    assert once["hooks"]["afterFileEdit"] == EXISTING["hooks"]["afterFileEdit"]
    install_cursor(hooks_file, command, 60)  # refreshed, not added twice
    again = json.loads(hooks_file.read_text())["hooks"]["beforeShellExecution"]
    assert again == [{"command": "./audit.sh"}, {"command": command, "timeout": 90}]
    assert uninstall_cursor(hooks_file) == 3
    assert json.loads(hooks_file.read_text()) == EXISTING
    assert uninstall_cursor(hooks_file) == 0


def test_is_ours_tells_the_harnesses_apart() -> None:
    assert is_ours({"command": "gantral hook cursor"}, "cursor")
    assert not is_ours({"command": "gantral hook cursor"})  # not Claude Code's
    assert not is_ours({"type": "command", "command": "gantral hook claude-code"}, "cursor")


def test_the_cli_installs_cursor_into_a_project_and_uninstalls(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    project = tmp_path / "proj"
    project.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    cmd = [str(GANTRAL), "hook", "install", "cursor", "--project", str(project),
           "--config", str(config)]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert json.loads(first.stdout)["changed"] is True
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert json.loads(second.stdout)["changed"] is False
    written = json.loads((project / ".cursor" / "hooks.json").read_text())
    assert written["version"] == 1
    assert written["hooks"]["beforeShellExecution"][0]["command"].split() == [
        sys.executable, "-m", "gantral.integrations.hooks", "cursor", "--config", str(config)
    ]  # fmt: skip
    user = [str(GANTRAL), "hook", "install", "cursor", "--user", "--config", str(config)]
    subprocess.run(user, capture_output=True, text=True, env=env, check=True)
    assert (tmp_path / ".cursor" / "hooks.json").exists()
    cmd = [str(GANTRAL), "hook", "uninstall", "cursor", "--project", str(project)]
    gone = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert json.loads(gone.stdout)["removed"] == 3
    assert json.loads((project / ".cursor" / "hooks.json").read_text()) == {"version": 1}


# Recorded from Claude Code 2.1.197 (the end-to-end test's CLI): newer fields the hooks
# reference does not show yet (`prompt_id`, `effort`) change nothing.
CLAUDE_CODE_2_1_197 = {
    "session_id": "337c967f-3d39-408c-bef5-aa70315dd5a6",
    "transcript_path": "/tmp/home/.claude/projects/-tmp-proj/337c967f.jsonl",
    "cwd": "/tmp/proj", "prompt_id": "312dc04c-db43-4032-8c95-a1d41aca33ac",
    "permission_mode": "default", "effort": {"level": "high"},
    "hook_event_name": "PreToolUse", "tool_name": "Bash",
    "tool_input": {"command": "echo probe-ran", "description": "probe"},
    "tool_use_id": "toolu_scripted_1",
}  # fmt: skip


def test_a_recorded_claude_code_payload_is_governed(tmp_path: Path) -> None:
    done = run(tmp_path, "claude-code", json.dumps(CLAUDE_CODE_2_1_197), mapping(tmp_path))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny" and "unreachable" in out["permissionDecisionReason"]

"""`gantral hook claude-code` without a stack: the payload shapes of Claude Code's hooks
reference (malformed ones too), unmapped tools, an unreachable Gantral, and installing the
hook into a settings file that already has hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from gantral.integrations.hooks import claude_code
from gantral.integrations.hooks.install import install, is_ours, uninstall

GANTRAL = Path(sys.executable).parent / "gantral"


def mapping(tmp: Path, url: str = "http://127.0.0.1:9", **extra: Any) -> Path:
    config = {
        "gantral": {"url": url, "token": "env:GANTRAL_TOKEN", "timeout": 2},
        "workflow": "coding-agent",
        "team": "payments",
        "wait": 5,
        "tools": [
            {"match": "Bash", "input_match": {"command": "^git push"}, "step": "push",
             "arguments": ["command"]},
            {"match": "Bash", "step": "shell", "arguments": ["command"]},
            {"match": "mcp__github__.*", "step": "github", "on_unreachable": "ask"},
        ],
        **extra,
    }  # fmt: skip
    path = tmp / "gantral-hooks.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def pre(tool: str = "Bash", tool_input: Any = None, **extra: Any) -> dict[str, Any]:
    """A PreToolUse payload as Claude Code's hooks reference shows it."""
    return {
        "session_id": "abc123",
        "transcript_path": "/home/u/.claude/projects/p/abc123.jsonl",
        "cwd": "/home/u/p",
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": {"command": "ls -la", "description": "List files"}
        if tool_input is None
        else tool_input,
        "tool_use_id": "toolu_01ABC",
        **extra,
    }


def run(
    tmp: Path, stdin: str, config: Path | None, *, cli: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    """The hook's answer to one event: in this process (each `gantral` start-up costs
    seconds), or through the command itself where `cli` says so."""
    args = [str(GANTRAL), "hook", "claude-code"]
    if config is not None:
        args += ["--config", str(config)]
    environment = {
        "PATH": os.environ["PATH"], "HOME": str(tmp), "GANTRAL_TOKEN": "t",
        "GANTRAL_HOOK_STATE_DIR": str(tmp / "state"), **env,
    }  # fmt: skip
    if cli:
        return subprocess.run(
            args, input=stdin, capture_output=True, text=True, env=environment, timeout=60
        )
    with mock.patch.dict(os.environ, environment, clear=True):
        result = claude_code.handle(stdin, config)
    return subprocess.CompletedProcess(args, result.code, result.stdout, result.stderr)


def answer(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse"
    return out


def test_malformed_input_blocks_with_exit_2(tmp_path: Path) -> None:
    for stdin in ("", "{not json", "[1, 2]", "null"):
        done = run(tmp_path, stdin, mapping(tmp_path), cli=stdin == "")
        assert done.returncode == 2 and done.stdout == "", stdin
        assert "blocked" in done.stderr


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ({**pre(), "tool_name": None}, "no tool_name"),
        ({k: v for k, v in pre().items() if k != "tool_name"}, "no tool_name"),
        (pre(tool_input="ls"), "no tool_input"),
        ({k: v for k, v in pre().items() if k != "session_id"}, "no session_id"),
    ],
)
def test_missing_fields_deny(tmp_path: Path, payload: dict[str, Any], said: str) -> None:
    out = answer(run(tmp_path, json.dumps(payload), mapping(tmp_path)))
    assert out["permissionDecision"] == "deny" and said in out["permissionDecisionReason"]


@pytest.mark.parametrize("default", ["allow", "ask", "deny"])
def test_unmapped_tool_gets_the_default_without_gantral(tmp_path: Path, default: str) -> None:
    config = mapping(tmp_path, unmapped=default)
    out = answer(run(tmp_path, json.dumps(pre("Read", {"file_path": "/a"})), config))
    assert out["permissionDecision"] == default
    assert "not governed" in out["permissionDecisionReason"]


def test_unmapped_passthrough_says_nothing(tmp_path: Path) -> None:
    done = run(tmp_path, json.dumps(pre("Read", {})), mapping(tmp_path, unmapped="passthrough"))
    assert done.returncode == 0 and done.stdout == ""


def test_unreachable_gantral_denies_or_asks_per_rule(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    out = answer(run(tmp_path, json.dumps(pre()), config))
    assert out["permissionDecision"] == "deny"
    assert "unreachable" in out["permissionDecisionReason"]
    mcp = pre("mcp__github__create_issue", {"title": "x", "body": "y"})
    out = answer(run(tmp_path, json.dumps(mcp), config))
    assert out["permissionDecision"] == "ask" and "unreachable" in out["permissionDecisionReason"]


def test_bad_mapping_or_missing_secret_denies(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("workflow: x\ntools: [{mach: Bash, step: s}]\n")
    out = answer(run(tmp_path, json.dumps(pre()), broken))
    assert (
        out["permissionDecision"] == "deny" and "misconfigured" in out["permissionDecisionReason"]
    )
    out = answer(run(tmp_path, json.dumps(pre()), tmp_path / "absent.yaml"))
    assert out["permissionDecision"] == "deny"
    out = answer(run(tmp_path, json.dumps(pre()), mapping(tmp_path), GANTRAL_TOKEN=""))
    assert (
        out["permissionDecision"] == "deny" and "GANTRAL_TOKEN" in out["permissionDecisionReason"]
    )
    # No --config and no variable: the project's .claude/gantral-hooks.yaml, here absent.
    out = answer(run(tmp_path, json.dumps(pre(cwd=str(tmp_path))), None))
    assert out["permissionDecision"] == "deny"


def test_other_events_without_a_governed_call_are_quiet(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    shapes = [
        {**pre(), "hook_event_name": "PostToolUse", "tool_response": {"stdout": "x"}},
        {**pre(), "hook_event_name": "PostToolUseFailure", "error": "exit 1"},
        {"session_id": "abc123", "transcript_path": "/t", "cwd": "/c",
         "hook_event_name": "SessionEnd", "reason": "exit"},
        {"session_id": "abc123", "hook_event_name": "Stop", "stop_hook_active": False},
        {"session_id": "abc123", "hook_event_name": "UserPromptSubmit", "prompt": "hi"},
        {"hook_event_name": "Unknown"},
    ]  # fmt: skip
    for payload in shapes:
        done = run(tmp_path, json.dumps(payload), config)
        assert (done.returncode, done.stdout) == (0, ""), payload


EXISTING = {
    "permissions": {"allow": ["Bash(npm test)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./lint.sh"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
}


def test_install_merges_and_uninstall_removes_exactly_what_it_added(tmp_path: Path) -> None:
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps(EXISTING))
    command = "/opt/venv/bin/gantral hook claude-code --config /p/.claude/gantral-hooks.yaml"
    assert install(settings, command, 300) is True
    once = json.loads(settings.read_text())
    assert install(settings, command, 300) is False  # idempotent
    assert json.loads(settings.read_text()) == once
    hooks = once["hooks"]
    assert hooks["PreToolUse"][0] == EXISTING["hooks"]["PreToolUse"][0]
    assert hooks["PreToolUse"][1] == {
        "matcher": "*", "hooks": [{"type": "command", "command": command, "timeout": 330}]
    }  # fmt: skip
    assert hooks["SessionEnd"] == [{"hooks": [{"type": "command", "command": command,
                                               "timeout": 30}]}]  # fmt: skip
    assert (
        hooks["Stop"] == EXISTING["hooks"]["Stop"]
        and once["permissions"] == EXISTING["permissions"]
    )
    # A changed wait refreshes the entry instead of adding a second one.
    install(settings, command, 600)
    again = json.loads(settings.read_text())["hooks"]["PreToolUse"]
    assert len(again) == 2 and again[1]["hooks"][0]["timeout"] == 630
    assert uninstall(settings) == 4
    assert json.loads(settings.read_text()) == EXISTING
    assert uninstall(settings) == 0


def test_uninstall_keeps_other_hooks_sharing_a_group(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    ours = {"type": "command", "command": "gantral hook claude-code"}
    theirs = {"type": "command", "command": "./audit.sh"}
    settings.write_text(
        json.dumps({"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [ours, theirs]}]}})
    )
    assert uninstall(settings) == 1
    assert json.loads(settings.read_text()) == {
        "hooks": {"PreToolUse": [{"matcher": "*", "hooks": [theirs]}]}
    }


def test_is_ours_recognises_only_the_gantral_hook() -> None:
    assert is_ours({"type": "command", "command": "'/a b/gantral' hook claude-code -c x"})
    assert is_ours(
        {"type": "command", "command": "/v/python -m gantral.integrations.hooks claude-code"}
    )
    assert not is_ours({"type": "command", "command": "echo gantral hook claude-code"})
    assert not is_ours({"type": "command", "command": "gantral mcp-proxy"})
    assert not is_ours({"type": "http", "url": "gantral hook claude-code"})
    assert not is_ours({"type": "command", "command": "unbalanced 'quote"})


def test_install_refuses_a_broken_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("{broken")
    with pytest.raises(ValueError, match="not valid JSON"):
        install(settings, "gantral hook claude-code", 300)
    assert settings.read_text() == "{broken"


def test_the_cli_installs_into_a_project_and_uninstalls(tmp_path: Path) -> None:
    config = mapping(tmp_path)
    project = tmp_path / "proj"
    project.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    cmd = [str(GANTRAL), "hook", "install", "claude-code", "--project", str(project),
           "--config", str(config)]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert json.loads(first.stdout)["changed"] is True
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert json.loads(second.stdout)["changed"] is False
    written = json.loads((project / ".claude" / "settings.json").read_text())
    command = written["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert command.split() == [
        sys.executable, "-m", "gantral.integrations.hooks", "claude-code", "--config", str(config)
    ]  # fmt: skip
    assert written["hooks"]["PreToolUse"][0]["hooks"][0]["timeout"] == 5 + 30
    cmd = [str(GANTRAL), "hook", "uninstall", "claude-code", "--project", str(project)]
    gone = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert json.loads(gone.stdout)["removed"] == 4
    assert json.loads((project / ".claude" / "settings.json").read_text()) == {}


def test_a_bad_mapping_is_named_without_its_values(tmp_path: Path) -> None:
    from gantral.integrations.hooks.config import load_config

    path = tmp_path / "m.yaml"
    path.write_text("gantral: {url: u, token: [s3cr3t-value]}\nworkflow: w\nteam: t\n")
    with pytest.raises(ValueError, match=r"gantral\.token") as caught:
        load_config(path)
    assert "s3cr3t-value" not in str(caught.value)

"""`gantral hook claude-code`: Claude Code's command hook, answered by Gantral.

Claude Code runs the hook once per event, with the event's JSON on stdin (its hooks
reference: `hook_event_name`, `session_id`, `transcript_path`, `cwd`, and per event
`tool_name`, `tool_input`, `tool_use_id`, `tool_response`, `reason`):

- PreToolUse: the call is governed (`gate.pre_tool_use`); the answer is Claude Code's
  documented decision output, `{"hookSpecificOutput": {"hookEventName": "PreToolUse",
  "permissionDecision": ..., "permissionDecisionReason": ...}}`: `allow` once granted (an
  override's edit goes back as `updatedInput`), `deny` with a reason the model sees, or
  `ask`.
- PostToolUse / PostToolUseFailure: STEP_COMPLETED / STEP_FAILED for a call this hook
  reported started (`report_completion`).
- SessionEnd: completes the session's instance. (`Stop` ends a turn, not the session.)

A malformed payload is exit 2 with the reason on stderr (which Claude Code treats as a
block). Codex's hooks speak the same protocol: `codex` reuses this translation.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gantral.integrations.hooks.config import HookConfig
from gantral.integrations.hooks.gate import (
    Decision,
    HookResult,
    Interrupted,
    ToolCall,
    Verdict,
    config_for,
    end_session,
    pre_tool_use,
    report_finished,
)

__all__ = ["HookResult", "decision", "handle", "parse", "tool_call"]

HARNESS = "claude-code"
DEFAULT_CONFIG = Path(".claude") / "gantral-hooks.yaml"


def decision(
    kind: Decision, reason: str, updated_input: dict[str, Any] | None = None
) -> HookResult:
    out: dict[str, Any] = {
        "hookEventName": "PreToolUse",
        "permissionDecision": kind,
        "permissionDecisionReason": reason,
    }
    if updated_input is not None:
        out["updatedInput"] = updated_input
    return HookResult(stdout=json.dumps({"hookSpecificOutput": out}))


def parse(stdin: str) -> dict[str, Any] | HookResult:
    """The event object, or the exit-2 block for input that is not one."""
    try:
        payload = json.loads(stdin)
    except ValueError as exc:
        return HookResult(2, stderr=f"Gantral hook: the hook input is not JSON ({exc}); blocked.")
    if not isinstance(payload, dict):
        return HookResult(2, stderr="Gantral hook: the hook input is not a JSON object; blocked.")
    return payload


def tool_call(harness: str, payload: dict[str, Any]) -> ToolCall:
    use_id = payload.get("tool_use_id")
    cwd = payload.get("cwd")
    return ToolCall(
        harness, payload.get("tool_name"), payload.get("tool_input"), payload.get("session_id"),
        tool_use_id=use_id if isinstance(use_id, str) and use_id else None,
        cwd=cwd if isinstance(cwd, str) else None,
    )  # fmt: skip


def _render(verdict: Verdict) -> HookResult:
    if verdict.kind is None:
        return HookResult()  # Claude Code's own permission rules decide
    return decision(verdict.kind, verdict.reason, verdict.updated_input)


def handle(stdin: str, config_path: Path | None = None) -> HookResult:
    """Answer one hook event. Never raises (but `Interrupted`, after cleaning up)."""
    payload = parse(stdin)
    if isinstance(payload, HookResult):
        return payload
    event = payload.get("hook_event_name")

    def config() -> HookConfig:
        project = os.environ.get("CLAUDE_PROJECT_DIR") or payload.get("cwd")
        return config_for(config_path, project, DEFAULT_CONFIG)

    try:
        if event == "PreToolUse":
            return _render(pre_tool_use(tool_call(HARNESS, payload), config))
        if event in ("PostToolUse", "PostToolUseFailure"):
            report_finished(
                HARNESS, payload.get("session_id"), payload.get("tool_use_id"),
                payload.get("tool_name"), config, failed=event == "PostToolUseFailure",
            )  # fmt: skip
        elif event == "SessionEnd":
            end_session(HARNESS, payload.get("session_id"), payload.get("reason"), config)
    except Interrupted:
        raise
    except BaseException as exc:  # never crash open
        return HookResult(1, stderr=f"Gantral hook: {event}: {type(exc).__name__}: {exc}")
    return HookResult()  # an event this hook does not govern: no opinion

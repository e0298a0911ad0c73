"""`gantral hook codex`: OpenAI Codex CLI's command hook, answered by Gantral.

Codex's hooks take Claude Code's wire format (its hooks documentation and the schemas in
`codex-rs/hooks/schema`): the event's JSON on stdin with `hook_event_name`, `session_id`,
`turn_id`, `cwd`, `tool_name` (`Bash`, `apply_patch`, MCP tools as
`mcp__<server>__<tool>`), `tool_input`, `tool_use_id`; the PreToolUse answer is
`hookSpecificOutput.permissionDecision`. What differs, and why the translation does:

- Codex honours only `deny` (with its reason shown to the model) or exit 2. `allow`,
  `ask` and `updatedInput` are parsed but not supported, and fail open. So a granted
  call answers nothing: Codex's own approval policy and sandbox then apply, as they
  would to any call; an `ask` answers nothing for the same reason. An approver's edit
  cannot be run in place of the call: the call is denied with the edit in the reason, and
  the instance is cancelled so its grant dies unused.
- Codex has no session-end event (`Stop` ends a turn): a session's instance stays
  RUNNING until it is completed or cancelled through the API, or a rejection
  ends it.
- PostToolUse reports STEP_COMPLETED; Codex has no failure event.
"""

from __future__ import annotations

import json
from pathlib import Path

from gantral.integrations.hooks.claude_code import parse, tool_call
from gantral.integrations.hooks.config import HookConfig
from gantral.integrations.hooks.gate import (
    HookResult,
    Interrupted,
    Verdict,
    config_for,
    pre_tool_use,
    report_finished,
)

__all__ = ["denial", "handle"]

HARNESS = "codex"
DEFAULT_CONFIG = Path(".codex") / "gantral-hooks.yaml"


def denial(reason: str) -> HookResult:
    out = {"hookEventName": "PreToolUse", "permissionDecision": "deny",
           "permissionDecisionReason": reason}  # fmt: skip
    return HookResult(stdout=json.dumps({"hookSpecificOutput": out}))


def _render(verdict: Verdict) -> HookResult:
    if verdict.kind == "deny":
        return denial(verdict.reason)
    return HookResult()  # allow, ask, no opinion: Codex's own approval policy decides


def handle(stdin: str, config_path: Path | None = None) -> HookResult:
    """Answer one hook event. Never raises (but `Interrupted`, after cleaning up)."""
    payload = parse(stdin)
    if isinstance(payload, HookResult):
        return payload
    event = payload.get("hook_event_name")

    def config() -> HookConfig:
        return config_for(config_path, payload.get("cwd"), DEFAULT_CONFIG)

    try:
        if event == "PreToolUse":
            return _render(pre_tool_use(tool_call(HARNESS, payload), config, can_edit=False))
        if event == "PostToolUse":
            report_finished(
                HARNESS, payload.get("session_id"), payload.get("tool_use_id"),
                payload.get("tool_name"), config, failed=False,
            )  # fmt: skip
    except Interrupted:
        raise
    except BaseException as exc:  # never crash open
        return HookResult(1, stderr=f"Gantral hook: {event}: {type(exc).__name__}: {exc}")
    return HookResult()

"""`gantral hook cursor`: Cursor's agent hooks (`.cursor/hooks.json`), answered by Gantral.

Cursor runs the hook once per event with the event's JSON on stdin (its hooks
documentation: `hook_event_name`, `conversation_id`, `generation_id`,
`workspace_roots`, and per event) and reads `{"permission": "allow" | "deny" | "ask",
"user_message": ..., "agent_message": ...}` on stdout. The events translated into a
governed call (the mapping file's tool names in brackets):

- beforeShellExecution (`Shell`, input `{command, cwd}`);
- beforeMCPExecution (`MCP:<tool_name>`, input the tool's arguments; `tool_input` may
  arrive as an object or as a JSON string);
- beforeReadFile (`Read`, input `{file_path}`; never the file's content). Cursor cannot
  ask here, so an `ask` is answered `deny`;
- sessionEnd completes the conversation's instance (`stop` ends a turn, not the session).

The session is the conversation (`conversation_id`). Cursor sends no per-call id, so no
STEP_COMPLETED is reported. Cursor cannot run an approver's edit: an overridden call is
denied with the edit in the reason, and its instance cancelled. A malformed payload is
exit 2 (Cursor's block) with a `deny` on stdout as well; a hook that crashes would fail
open in Cursor, so every other error is a `deny` with the reason.
"""

from __future__ import annotations

import json
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
)

__all__ = ["EVENTS", "answer", "handle"]

HARNESS = "cursor"
DEFAULT_CONFIG = Path(".cursor") / "gantral-hooks.yaml"
EVENTS = ("beforeShellExecution", "beforeMCPExecution", "beforeReadFile")
"""The events that carry a decision, and that this hook governs."""


def answer(kind: Decision, reason: str, code: int = 0) -> HookResult:
    # The messages in both spellings: Cursor 1.7 documented camelCase, later releases
    # snake_case; each reads its own and ignores the other.
    out = {"permission": kind, "user_message": reason, "agent_message": reason,
           "userMessage": reason, "agentMessage": reason}  # fmt: skip
    return HookResult(code, stdout=json.dumps(out), stderr=reason if code else "")


def _blocked(reason: str) -> HookResult:
    return answer("deny", f"Gantral hook: {reason}; blocked.", code=2)


def _project(payload: dict[str, Any]) -> Any:
    roots = payload.get("workspace_roots")
    if isinstance(roots, list) and roots and isinstance(roots[0], str):
        return roots[0]
    return payload.get("cwd")


def _call(event: str, payload: dict[str, Any]) -> ToolCall | HookResult:
    session = payload.get("conversation_id")
    context = {"generation_id": payload.get("generation_id")}
    if event == "beforeShellExecution":
        command, cwd = payload.get("command"), payload.get("cwd")
        if not isinstance(command, str):
            return _blocked("beforeShellExecution without a command")
        tool_input = {"command": command, "cwd": cwd if isinstance(cwd, str) else None}
        return ToolCall(HARNESS, "Shell", tool_input, session, cwd=tool_input["cwd"],
                        context=context)  # fmt: skip
    if event == "beforeMCPExecution":
        name, arguments = payload.get("tool_name"), payload.get("tool_input")
        if not isinstance(name, str) or not name:
            return _blocked("beforeMCPExecution without a tool_name")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                return _blocked(f"the arguments of MCP tool {name!r} are not JSON")
        if arguments is None:
            arguments = {}
        server = payload.get("url") or payload.get("command")
        return ToolCall(HARNESS, f"MCP:{name}", arguments, session,
                        context={**context, "mcp_server": server})  # fmt: skip
    path = payload.get("file_path")
    if not isinstance(path, str) or not path:
        return _blocked("beforeReadFile without a file_path")
    return ToolCall(HARNESS, "Read", {"file_path": path}, session, context=context)


def _render(event: str, verdict: Verdict) -> HookResult:
    if verdict.kind is None:
        return HookResult()  # no opinion: Cursor's own settings decide
    if verdict.kind == "ask" and event == "beforeReadFile":
        return answer("deny", verdict.reason + " (Cursor cannot ask before a read: denied.)")
    return answer(verdict.kind, verdict.reason)


def handle(stdin: str, config_path: Path | None = None) -> HookResult:
    """Answer one hook event. Never raises (but `Interrupted`, after cleaning up)."""
    try:
        payload = json.loads(stdin)
    except ValueError as exc:
        return _blocked(f"the hook input is not JSON ({exc})")
    if not isinstance(payload, dict):
        return _blocked("the hook input is not a JSON object")
    event = payload.get("hook_event_name")

    def config() -> HookConfig:
        return config_for(config_path, _project(payload), DEFAULT_CONFIG)

    try:
        if event in EVENTS:
            call = _call(event, payload)
            if isinstance(call, HookResult):
                return call
            return _render(event, pre_tool_use(call, config, can_edit=False))
        if event == "sessionEnd":
            session = payload.get("conversation_id") or payload.get("session_id")
            end_session(HARNESS, session, payload.get("reason"), config)
    except Interrupted:
        raise
    except BaseException as exc:  # never crash open
        if event in EVENTS:
            return answer("deny", f"Gantral hook failed ({type(exc).__name__}: {exc}).")
        return HookResult(1, stderr=f"Gantral hook: {event}: {type(exc).__name__}: {exc}")
    return HookResult()

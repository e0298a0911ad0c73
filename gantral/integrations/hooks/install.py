"""`gantral hook install|uninstall claude-code|cursor`: the hook entries in Claude Code's
settings file (`.claude/settings.json` of a project, or `~/.claude/settings.json`) or in
Cursor's hooks file (`.cursor/hooks.json`, or `~/.cursor/hooks.json`).

Merged, never clobbered: other keys, other hooks and other matcher groups stay as they
are. Installing twice leaves one entry per event (refreshed); uninstall removes only the
entries whose command runs this hook for that harness, and the groups or event keys that
became empty by that removal.
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "CURSOR_EVENTS",
    "EVENTS",
    "hook_command",
    "install",
    "install_cursor",
    "is_ours",
    "uninstall",
    "uninstall_cursor",
]

EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure", "SessionEnd")
"""The events the hook answers. Tool events match every tool: the mapping file decides."""

TOOL_EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure")
MARGIN = 30
"""Seconds the harness's timeout exceeds the hook's own wait: the hook must answer (deny)
before the harness gives up on it, which would not block the call."""
SESSION_END_TIMEOUT = 30
CURSOR_EVENTS = ("beforeShellExecution", "beforeMCPExecution", "sessionEnd")
"""Cursor's events the installed hook answers. `beforeReadFile` is governed too when added
by hand; it is not installed, because every file read would then pass the mapping."""


MODULE = "gantral.integrations.hooks"


def hook_command(python: str, config: Path | None, harness: str = "claude-code") -> str:
    """`python -m gantral.integrations.hooks <harness>`: what `gantral hook <harness>`
    runs, without the whole command's imports (it runs on every tool call)."""
    parts = [python, "-m", MODULE, harness]
    if config is not None:
        parts += ["--config", str(config)]
    return shlex.join(parts)


def is_ours(hook: Any, harness: str = "claude-code") -> bool:
    """A command hook that runs `gantral hook <harness>` (or its module form). Cursor's
    entries may leave out `type` (a command by default)."""
    if not isinstance(hook, dict) or hook.get("type", "command") != "command":
        return False
    try:
        words = shlex.split(str(hook.get("command", "")))
    except ValueError:
        return False
    if not words:
        return False
    if any(words[i : i + 3] == ["-m", MODULE, harness] for i in range(len(words))):
        return True
    if not Path(words[0]).name.startswith("gantral"):
        return False
    return any(words[i : i + 2] == ["hook", harness] for i in range(len(words)))


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    text = path.read_text()
    try:
        settings = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix it first") from exc
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: expected a JSON object")
    hooks = settings.get("hooks", {})
    if not isinstance(hooks, dict):
        raise ValueError(f"{path}: `hooks` is not an object")
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise ValueError(f"{path}: hooks.{event} is not a list")
    return settings


def _write(path: Path, settings: dict[str, Any]) -> None:
    # Written whole and renamed: an interrupted write never leaves half a settings file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(settings, indent=2) + "\n")
    os.replace(tmp, path)


def _strip(groups: list[Any]) -> tuple[list[Any], int]:
    """The groups without our hooks (a group left empty by that goes), and how many went."""
    kept, removed = [], 0
    for group in groups:
        inner = group.get("hooks") if isinstance(group, dict) else None
        if not isinstance(inner, list):
            kept.append(group)
            continue
        mine = [h for h in inner if is_ours(h)]
        if not mine:
            kept.append(group)
            continue
        removed += len(mine)
        rest = [h for h in inner if not is_ours(h)]
        if rest:
            kept.append({**group, "hooks": rest})
    return kept, removed


def install(path: Path, command: str, wait: float) -> bool:
    """Add (or refresh) the hook in the settings file at `path`. True if it changed."""
    settings = _read(path)
    before = json.dumps(settings, sort_keys=True)
    hooks = settings.setdefault("hooks", {})
    for event in EVENTS:
        groups, _ = _strip(hooks.get(event, []))
        timeout = SESSION_END_TIMEOUT if event == "SessionEnd" else int(wait) + MARGIN
        entry = {"type": "command", "command": command, "timeout": timeout}
        group: dict[str, Any] = {"hooks": [entry]}
        if event in TOOL_EVENTS:
            group = {"matcher": "*", **group}
        hooks[event] = [*groups, group]
    if json.dumps(settings, sort_keys=True) == before:
        return False
    _write(path, settings)
    return True


def uninstall(path: Path) -> int:
    """Remove the hook's entries from the settings file; how many were removed."""
    if not path.exists():
        return 0
    settings = _read(path)
    hooks = settings.get("hooks")
    if not hooks:
        return 0
    removed = 0
    for event in list(hooks):
        groups, count = _strip(hooks[event])
        if count == 0:
            continue
        removed += count
        if groups:
            hooks[event] = groups
        else:
            del hooks[event]
    if removed == 0:
        return 0
    if not hooks:
        del settings["hooks"]
    _write(path, settings)
    return removed


def install_cursor(path: Path, command: str, wait: float) -> bool:
    """Add (or refresh) the hook in Cursor's hooks file at `path`. True if it changed."""
    hooks_file = _read(path)
    before = json.dumps(hooks_file, sort_keys=True)
    hooks_file.setdefault("version", 1)
    hooks = hooks_file.setdefault("hooks", {})
    for event in CURSOR_EVENTS:
        kept = [h for h in hooks.get(event, []) if not is_ours(h, "cursor")]
        timeout = SESSION_END_TIMEOUT if event == "sessionEnd" else int(wait) + MARGIN
        hooks[event] = [*kept, {"command": command, "timeout": timeout}]
    if json.dumps(hooks_file, sort_keys=True) == before:
        return False
    _write(path, hooks_file)
    return True


def uninstall_cursor(path: Path) -> int:
    """Remove the hook's entries from Cursor's hooks file; how many were removed."""
    if not path.exists():
        return 0
    hooks_file = _read(path)
    hooks = hooks_file.get("hooks")
    if not hooks:
        return 0
    removed = 0
    for event in list(hooks):
        kept = [h for h in hooks[event] if not is_ours(h, "cursor")]
        if len(kept) == len(hooks[event]):
            continue
        removed += len(hooks[event]) - len(kept)
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
    if removed == 0:
        return 0
    if not hooks:
        del hooks_file["hooks"]
    _write(path, hooks_file)
    return removed

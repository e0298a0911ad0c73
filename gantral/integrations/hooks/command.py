"""The `hook` command group: coding-agent hooks (Claude Code, Codex, Cursor) and their
installation.

Here, not in `gantral.cli`, so that `python -m gantral.integrations.hooks` (run on every
tool call) imports only this package; `gantral.cli.hook` registers it as `gantral hook`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

hook_app = typer.Typer(
    help="Coding-agent hooks: govern Claude Code's, Codex's and Cursor's tool calls.",
    no_args_is_help=True,
)


class Harness(StrEnum):
    claude_code = "claude-code"
    cursor = "cursor"


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", dir_okay=False, help="The mapping file (YAML)."),
]


def _answer(harness: str, config: Path | None) -> None:
    """Run one hook event through the harness's translation; a block, never an allow,
    whatever goes wrong."""
    from gantral.integrations.hooks import claude_code, codex, cursor
    from gantral.integrations.hooks.gate import HookResult, Interrupted

    handlers: dict[str, Callable[[str, Path | None], HookResult]] = {
        "claude-code": claude_code.handle, "codex": codex.handle, "cursor": cursor.handle,
    }  # fmt: skip
    interrupted: dict[str, Callable[[str], HookResult]] = {
        "claude-code": lambda why: claude_code.decision("deny", why),
        "codex": codex.denial,
        "cursor": lambda why: cursor.answer("deny", why),
    }
    try:
        result: HookResult = handlers[harness](sys.stdin.read(), config)
    except Interrupted:
        result = interrupted[harness]("Gantral hook interrupted; the call was not made.")
    except BaseException as exc:  # the last line of defence: a block, never an allow
        sys.stderr.write(f"Gantral hook failed: {type(exc).__name__}; blocked.\n")
        raise typer.Exit(2) from exc
    if result.stdout:
        sys.stdout.write(result.stdout + "\n")
    if result.stderr:
        sys.stderr.write(result.stderr + "\n")
    raise typer.Exit(result.code)


@hook_app.command("claude-code")
def claude_code_command(config: ConfigOption = None) -> None:
    """The hook itself: reads Claude Code's hook event on stdin, answers on stdout.
    Without --config: $GANTRAL_HOOK_CONFIG, else .claude/gantral-hooks.yaml of the project."""
    _answer("claude-code", config)


@hook_app.command("codex")
def codex_command(config: ConfigOption = None) -> None:
    """Codex's hook: reads its hook event on stdin; denies on stdout, or says nothing.
    Without --config: $GANTRAL_HOOK_CONFIG, else .codex/gantral-hooks.yaml of the cwd."""
    _answer("codex", config)


@hook_app.command("cursor")
def cursor_command(config: ConfigOption = None) -> None:
    """Cursor's hook: reads its hook event on stdin, answers a permission on stdout.
    Without --config: $GANTRAL_HOOK_CONFIG, else .cursor/gantral-hooks.yaml of the
    workspace."""
    _answer("cursor", config)


def _settings_path(harness: Harness, project: Path | None, user: bool) -> Path:
    if user and project is not None:
        raise typer.BadParameter("give --project DIR or --user, not both")
    relative = (
        Path(".cursor") / "hooks.json"
        if harness == Harness.cursor
        else Path(".claude") / "settings.json"
    )
    return (Path.home() if user else (project or Path.cwd())) / relative


ProjectOption = Annotated[
    Path | None,
    typer.Option("--project", file_okay=False, help="The project (default: this directory)."),
]
UserOption = Annotated[
    bool, typer.Option("--user", help="~/.claude/settings.json (~/.cursor/hooks.json) instead.")
]


@hook_app.command("install")
def install_command(
    harness: Harness,
    project: ProjectOption = None,
    user: UserOption = False,
    config: ConfigOption = None,
    python: Annotated[
        str | None, typer.Option(help="The Python to run the hook with (default: this one).")
    ] = None,
) -> None:
    """Write the hook into Claude Code's settings (Cursor's hooks file), merged with the
    hooks already there. Installing again refreshes it; nothing else in the file changes."""
    from gantral.integrations.hooks.config import load_config
    from gantral.integrations.hooks.install import hook_command, install, install_cursor

    wait = 300.0
    if config is not None:
        try:
            wait = load_config(config).wait
        except (ValueError, OSError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--config") from exc
        config = config.resolve()
    path = _settings_path(harness, project, user)
    line = hook_command(python or sys.executable, config, harness.value)
    try:
        changed = (install_cursor if harness == Harness.cursor else install)(path, line, wait)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(json.dumps({"settings": str(path), "command": line, "changed": changed}))


@hook_app.command("uninstall")
def uninstall_command(
    harness: Harness, project: ProjectOption = None, user: UserOption = False
) -> None:
    """Remove the hook's entries (and only those) from the harness's settings."""
    from gantral.integrations.hooks.install import uninstall, uninstall_cursor

    path = _settings_path(harness, project, user)
    try:
        removed = (uninstall_cursor if harness == Harness.cursor else uninstall)(path)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(json.dumps({"settings": str(path), "removed": removed}))

"""The `hook` command group: coding-agent hooks (Claude Code) and their installation.

Here, not in `gantral.cli`, so that `python -m gantral.integrations.hooks` (run on every
tool call) imports only this package; `gantral.cli.hook` registers it as `gantral hook`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

hook_app = typer.Typer(
    help="Coding-agent hooks: govern Claude Code's tool calls with Gantral.",
    no_args_is_help=True,
)


class Harness(StrEnum):
    claude_code = "claude-code"


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", dir_okay=False, help="The mapping file (YAML)."),
]


@hook_app.command("claude-code")
def claude_code_command(config: ConfigOption = None) -> None:
    """The hook itself: reads Claude Code's hook event on stdin, answers on stdout.
    Without --config: $GANTRAL_HOOK_CONFIG, else .claude/gantral-hooks.yaml of the project."""
    from gantral.integrations.hooks.claude_code import _Interrupted, decision, handle

    try:
        result = handle(sys.stdin.read(), config)
    except _Interrupted:
        result = decision("deny", "Gantral hook interrupted; the call was not made.")
    except BaseException as exc:  # the last line of defence: a block, never an allow
        sys.stderr.write(f"Gantral hook failed: {type(exc).__name__}; blocked.\n")
        raise typer.Exit(2) from exc
    if result.stdout:
        sys.stdout.write(result.stdout + "\n")
    if result.stderr:
        sys.stderr.write(result.stderr + "\n")
    raise typer.Exit(result.code)


def _settings_path(project: Path | None, user: bool) -> Path:
    if user and project is not None:
        raise typer.BadParameter("give --project DIR or --user, not both")
    if user:
        return Path.home() / ".claude" / "settings.json"
    return (project or Path.cwd()) / ".claude" / "settings.json"


ProjectOption = Annotated[
    Path | None,
    typer.Option("--project", file_okay=False, help="The project (default: this directory)."),
]
UserOption = Annotated[bool, typer.Option("--user", help="~/.claude/settings.json instead.")]


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
    """Write the hook into Claude Code's settings, merged with the hooks already there.
    Installing again refreshes it; nothing else in the file changes."""
    from gantral.integrations.hooks.config import load_config
    from gantral.integrations.hooks.install import hook_command, install

    wait = 300.0
    if config is not None:
        try:
            wait = load_config(config).wait
        except (ValueError, OSError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--config") from exc
        config = config.resolve()
    path = _settings_path(project, user)
    line = hook_command(python or sys.executable, config)
    try:
        changed = install(path, line, wait)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(json.dumps({"settings": str(path), "command": line, "changed": changed}))


@hook_app.command("uninstall")
def uninstall_command(
    harness: Harness, project: ProjectOption = None, user: UserOption = False
) -> None:
    """Remove the hook's entries (and only those) from Claude Code's settings."""
    from gantral.integrations.hooks.install import uninstall

    path = _settings_path(project, user)
    try:
        removed = uninstall(path)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(json.dumps({"settings": str(path), "removed": removed}))

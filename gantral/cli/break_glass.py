"""`gantral break-glass`: open, approve and list break-glasses over the HTTP API.

    export GANTRAL_API_URL=https://gantral.example.com GANTRAL_TOKEN=...
    gantral break-glass open --team payments --ttl 30m --reason "INC-9: approvers away"
    gantral break-glass approve bg_0123... --reason "confirmed with INC-9"
    gantral break-glass list [--all] [--output json]

An API refusal is printed with its reason and the command exits 1.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from gantral.cli.halt import DEFAULT_URL, ApiUrl, Reason, Token, _call
from gantral.cli.output import OutputFormat, OutputOpt

__all__ = ["break_glass_app"]

break_glass_app = typer.Typer(
    help="Break-glass: a quorum lets one scope pass a policy's human requirement for a while.",
    no_args_is_help=True,
)
COMMAND = "break-glass"


def _line(glass: dict[str, Any]) -> str:
    scope = ", ".join(f"{k}={v}" for k, v in glass["scope"].items())
    who = ", ".join(f"{a['human']} as {a['role']}" for a in glass["approvals"])
    text = f"{glass['break_glass_id']}  {scope}  {glass['status']}"
    if glass.get("expires_at"):
        text += f" until {glass['expires_at']}"
    return f"{text}  (approved by {who}): {glass['reason']}"


def _show(glass: Any, output: OutputFormat) -> None:
    typer.echo(json.dumps(glass, indent=2) if output is OutputFormat.json else _line(glass))


@break_glass_app.command("open")
def open_glass(
    reason: Reason,
    ttl: Annotated[str, typer.Option(help="How long it holds once approved (e.g. 30m).")],
    team: Annotated[str | None, typer.Option(help="For this team.")] = None,
    agent: Annotated[str | None, typer.Option(help="For this agent.")] = None,
    workflow: Annotated[str | None, typer.Option(help="For this workflow.")] = None,
    version: Annotated[int | None, typer.Option(help="Only this version of --workflow.")] = None,
    deployment: Annotated[bool, typer.Option("--deployment", help="For everything.")] = False,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = "",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Open a break-glass on exactly one scope (your approval counts first)."""
    named = {"team": team, "agent": agent, "workflow": workflow, "version": version}
    scope: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
    if deployment:
        scope["deployment"] = True
    body = {"scope": scope, "reason": reason, "ttl": ttl}
    _show(_call(api_url, token, "POST", "/v1/break-glass", body, COMMAND), output)


@break_glass_app.command("approve")
def approve_glass(
    break_glass_id: Annotated[str, typer.Argument(help="The break-glass to approve.")],
    reason: Reason,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = "",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Approve a pending break-glass; the approval completing the quorum opens it."""
    path = f"/v1/break-glass/{break_glass_id}:approve"
    _show(_call(api_url, token, "POST", path, {"reason": reason}, COMMAND), output)


@break_glass_app.command("list")
def list_glass(
    include_ended: Annotated[bool, typer.Option("--all", help="Ended ones too.")] = False,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = "",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Break-glasses pending or in effect (with --all, every one), oldest first."""
    query = "?include_ended=true" if include_ended else ""
    glasses = _call(api_url, token, "GET", f"/v1/break-glass{query}", command=COMMAND)
    if output is OutputFormat.json:
        typer.echo(json.dumps(glasses, indent=2))
    elif not glasses:
        typer.echo("no break-glass")
    else:
        for glass in glasses:
            typer.echo(_line(glass))

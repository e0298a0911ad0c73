"""`gantral standing`: standing grants from a terminal, over the HTTP API.

    export GANTRAL_API_URL=https://gantral.example.com GANTRAL_TOKEN=...
    gantral standing list [--team payments] [--usable] [--output json]
    gantral standing revoke stg_0123... --reason "agent misbehaves"

Grants are given with an APPROVE (`standing` in the decision body). An API refusal is
printed with its reason and the command exits 1.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from gantral.cli.halt import DEFAULT_URL, ApiUrl, Reason, Token, _call
from gantral.cli.output import OutputFormat, OutputOpt

__all__ = ["standing_app"]

standing_app = typer.Typer(help="Standing grants: list and revoke.", no_args_is_help=True)


def _line(grant: dict[str, Any]) -> str:
    serves = grant["agent"] or f"team {grant['team']}"
    text = (
        f"{grant['standing_id']}  {grant['workflow_id']}/{grant['step_id']} for {serves}"
        f"  by {grant['approver']}  uses {grant['uses']}/{grant['max_uses']}"
        f"  until {grant['expires_at']}"
    )
    if grant.get("revoked_at"):
        text += f"  (revoked by {grant['revoked_by']}: {grant['revoke_reason']})"
    return text


@standing_app.command("list")
def list_standing(
    team: Annotated[str | None, typer.Option(help="Only this team's.")] = None,
    usable: Annotated[bool, typer.Option("--usable", help="Only usable ones.")] = False,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = "",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Standing grants of the teams you may read, oldest first."""
    query = "&".join(
        q for q in (f"team={team}" if team else "", "usable_only=true" if usable else "") if q
    )
    grants = _call(
        api_url,
        token,
        "GET",
        "/v1/standing-grants" + (f"?{query}" if query else ""),
        command="standing",
    )
    if output is OutputFormat.json:
        typer.echo(json.dumps(grants, indent=2))
    elif not grants:
        typer.echo("no standing grants")
    else:
        for grant in grants:
            typer.echo(_line(grant))


@standing_app.command("revoke")
def revoke_standing(
    standing_id: Annotated[str, typer.Argument(help="The standing grant to revoke.")],
    reason: Reason,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = "",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Revoke a standing grant at once (its approver or a supervisor)."""
    path = f"/v1/standing-grants/{standing_id}:revoke"
    grant = _call(api_url, token, "POST", path, {"reason": reason}, "standing")
    typer.echo(json.dumps(grant, indent=2) if output is OutputFormat.json else _line(grant))

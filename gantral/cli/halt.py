"""`gantral halt`: the kill switch from a terminal, over the HTTP API.

    export GANTRAL_API_URL=https://gantral.example.com GANTRAL_TOKEN=...
    gantral halt raise --team payments --reason "agent loops on refunds (INC-42)"
    gantral halt raise --workflow deploy --version 3 --reason "bad release"
    gantral halt raise --deployment --reason "credential leak"
    gantral halt list [--all] [--output json]
    gantral halt lift halt_0123... --reason "fixed in agent v1.4"
    gantral halt exempt halt_0123... --agent deploy-bot --reason "fixed; the rest waits"

An API refusal is printed with its reason and the command exits 1.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer

from gantral.cli.output import OutputFormat, OutputOpt

__all__ = ["halt_app"]

halt_app = typer.Typer(help="The kill switch: raise, list and lift halts.", no_args_is_help=True)

ApiUrl = Annotated[str, typer.Option(envvar="GANTRAL_API_URL", help="The API root.")]
Token = Annotated[
    str, typer.Option(envvar="GANTRAL_TOKEN", help="Bearer token.", show_default=False)
]
Reason = Annotated[str, typer.Option(help="Why (audited, and shown with every refusal).")]
DEFAULT_URL = "http://127.0.0.1:8000"


def _call(
    url: str, token: str, method: str, path: str, body: Any = None, command: str = "halt"
) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        resp = httpx.request(method, f"{url.rstrip('/')}{path}", json=body, headers=headers)
    except httpx.HTTPError as exc:
        typer.echo(f"gantral {command}: cannot reach {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if resp.is_error:
        try:
            error = resp.json()
            text = f"{resp.status_code} {error.get('reason')}: {error.get('message')}"
        except ValueError:
            text = f"{resp.status_code}: {resp.text[:500]}"
        typer.echo(f"gantral {command}: refused: {text}", err=True)
        raise typer.Exit(1)
    return resp.json()


def _line(halt: dict[str, Any]) -> str:
    scope = ", ".join(f"{k}={v}" for k, v in halt["scope"].items())
    text = f"{halt['halt_id']}  {scope}  raised by {halt['raised_by']} at {halt['raised_at']}"
    text += f": {halt['reason']}"
    if halt.get("lifted_at"):
        text += f"  (lifted by {halt['lifted_by']} at {halt['lifted_at']}: {halt['lift_reason']})"
    elif approvals := halt.get("lift_approvals"):  # a lift waiting for its quorum
        who = ", ".join(f"{a['human']} as {a['role']}" for a in approvals)
        text += f"  (lift approved by {who}; awaiting the quorum)"
    for part in halt.get("exemptions") or []:
        exempted = ", ".join(f"{k}={v}" for k, v in part["scope"].items())
        text += f"  (except {exempted}, by {part['exempted_by']})"
    return text


@halt_app.command("raise")
def raise_halt(
    reason: Reason,
    team: Annotated[str | None, typer.Option(help="Halt this team.")] = None,
    agent: Annotated[str | None, typer.Option(help="Halt this agent.")] = None,
    workflow: Annotated[str | None, typer.Option(help="Halt this workflow.")] = None,
    version: Annotated[int | None, typer.Option(help="Only this version of --workflow.")] = None,
    deployment: Annotated[bool, typer.Option("--deployment", help="Halt everything.")] = False,
    lift_by_another: Annotated[
        bool, typer.Option("--lift-by-another", help="Only someone else may lift it.")
    ] = False,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = "",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Raise a halt on exactly one scope."""
    scope: dict[str, Any] = {
        k: v
        for k, v in {"team": team, "agent": agent, "workflow": workflow, "version": version}.items()
        if v is not None
    }
    if deployment:
        scope["deployment"] = True
    body = {"scope": scope, "reason": reason, "lift_by_another": lift_by_another}
    halt = _call(api_url, token, "POST", "/v1/halts", body)
    typer.echo(json.dumps(halt, indent=2) if output is OutputFormat.json else _line(halt))


@halt_app.command("lift")
def lift_halt(
    halt_id: Annotated[str, typer.Argument(help="The halt to lift.")],
    reason: Reason,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = "",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Lift a halt (or, where the deployment's lift needs a quorum, approve its lift)."""
    halt = _call(api_url, token, "POST", f"/v1/halts/{halt_id}:lift", {"reason": reason})
    typer.echo(json.dumps(halt, indent=2) if output is OutputFormat.json else _line(halt))


@halt_app.command("exempt")
def exempt_from_halt(
    halt_id: Annotated[str, typer.Argument(help="The halt a part of which runs again.")],
    reason: Reason,
    team: Annotated[str | None, typer.Option(help="This team runs again.")] = None,
    agent: Annotated[str | None, typer.Option(help="This agent runs again.")] = None,
    workflow: Annotated[str | None, typer.Option(help="This workflow runs again.")] = None,
    version: Annotated[int | None, typer.Option(help="Only this version of --workflow.")] = None,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = "",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Staged recovery: a narrower scope inside the halt runs again; the rest stays halted."""
    named = {"team": team, "agent": agent, "workflow": workflow, "version": version}
    scope = {k: v for k, v in named.items() if v is not None}
    body = {"scope": scope, "reason": reason}
    halt = _call(api_url, token, "POST", f"/v1/halts/{halt_id}:exempt", body)
    typer.echo(json.dumps(halt, indent=2) if output is OutputFormat.json else _line(halt))


@halt_app.command("list")
def list_halts(
    include_lifted: Annotated[bool, typer.Option("--all", help="Lifted halts too.")] = False,
    api_url: ApiUrl = DEFAULT_URL,
    token: Token = "",
    output: OutputOpt = OutputFormat.text,
) -> None:
    """The halts in effect (with --all, every halt), oldest first."""
    query = "?include_lifted=true" if include_lifted else ""
    halts = _call(api_url, token, "GET", f"/v1/halts{query}")
    if output is OutputFormat.json:
        typer.echo(json.dumps(halts, indent=2))
    elif not halts:
        typer.echo("no halts")
    else:
        for halt in halts:
            typer.echo(_line(halt))

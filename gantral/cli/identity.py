"""`gantral identity ...`: mint development tokens, manage development clients, and run
the development issuer. Every command refuses the production profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from gantral.devstack.stack_file import local_issuer_url
from gantral.errors import Forbidden
from gantral.identity.dev_clients import add_client
from gantral.identity.dev_issuer import refuse_outside_development, serve_dev_issuer
from gantral.identity.dev_keys import load_or_create_signing_key, mint_token
from gantral.identity.principal import PrincipalKind
from gantral.settings import Profile, Settings
from gantral.settings.durations import parse_duration
from gantral.settings.identity import IdentitySettings
from gantral.settings.validation_problems import validation_problems

__all__ = ["identity_app"]

identity_app = typer.Typer(
    help="Identity: development tokens and the development OIDC issuer.",
    no_args_is_help=True,
    add_completion=False,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Dev issuer data directory [default: GANTRAL_IDENTITY__DEV_ISSUER__DATA_DIR]"
    ),
]
Roles = Annotated[list[str] | None, typer.Option("--role", help="A role (repeatable).")]
Teams = Annotated[list[str] | None, typer.Option("--team", help="A team (repeatable).")]
Owner = Annotated[
    str | None,
    typer.Option(help="The agent's accountable human: never counts as its approver."),
]


def _settings(data_dir: Path | None) -> tuple[IdentitySettings, Profile]:
    """Identity settings from the one settings tree, refusing production."""
    try:
        root = Settings()
    except ValidationError as exc:
        # Fields and problems only: the values given may be secrets.
        typer.echo(f"refused: invalid settings: {validation_problems(exc)}", err=True)
        raise typer.Exit(code=2) from exc
    identity = root.identity
    if data_dir is not None:
        dev = identity.dev_issuer.model_copy(update={"data_dir": data_dir})
        identity = identity.model_copy(update={"dev_issuer": dev})
    try:
        refuse_outside_development(identity, root.profile)
    except Forbidden as exc:
        typer.echo(f"refused: {exc.message}", err=True)
        raise typer.Exit(code=2) from exc
    return identity, root.profile


@identity_app.command()
def mint(
    user: Annotated[str, typer.Option(help="Subject: a user name, or the agent's id.")],
    role: Roles = None,
    team: Teams = None,
    agent: Annotated[bool, typer.Option("--agent", help="Mint an agent token.")] = False,
    owner: Owner = None,
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 10m, 1h.")] = "10m",
    audience: Annotated[
        str | None,
        typer.Option(help="The resource it is for, e.g. an MCP gateway's URL (default: the API)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Print a token signed by the development issuer's key.

    Its issuer is GANTRAL_IDENTITY__DEV_ISSUER__URL when set, else that of the
    `gantral dev` stack whose issuer keeps its key in the data directory (whatever its
    ports), else http://127.0.0.1:8600."""
    if owner is not None and not agent:
        raise typer.BadParameter("only an agent has an owner: add --agent", param_hint="--owner")
    identity, _ = _settings(data_dir)
    try:
        lifetime = parse_duration(ttl)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ttl") from exc
    key = load_or_create_signing_key(identity.dev_issuer.data_dir)
    issuer = identity.dev_issuer.url
    if "url" not in identity.dev_issuer.model_fields_set:
        # Beside `gantral dev` (any ports), its issuer: the API trusts no other `iss`.
        issuer = local_issuer_url(identity.dev_issuer.data_dir) or issuer
    token = mint_token(
        key,
        issuer=issuer.rstrip("/"),
        audience=audience or identity.audience,
        subject=user,
        kind=PrincipalKind.AGENT if agent else PrincipalKind.HUMAN,
        roles=role or [],
        teams=team or [],
        ttl=lifetime,
        owner=owner,
        owner_claim=identity.claims.owner,
    )
    typer.echo(token)


@identity_app.command("add-client")
def add_client_command(
    client_id: Annotated[str, typer.Argument(help="The agent's client id (token subject).")],
    role: Roles = None,
    team: Teams = None,
    owner: Owner = None,
    data_dir: DataDir = None,
) -> None:
    """Register an agent for the client-credentials grant; prints its new secret once."""
    identity, _ = _settings(data_dir)
    secret = add_client(
        identity.dev_issuer.data_dir, client_id, roles=role or [], teams=team or [], owner=owner
    )
    typer.echo(secret.get_secret_value())


@identity_app.command("serve-dev-issuer")
def serve(data_dir: DataDir = None) -> None:
    """Run the development issuer at GANTRAL_IDENTITY__DEV_ISSUER__URL."""
    identity, profile = _settings(data_dir)
    serve_dev_issuer(identity, profile)

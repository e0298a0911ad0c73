"""The `gantral` command: the local stack, each process on its own, and operator tools."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer

from gantral.cli.audit import audit_app
from gantral.cli.break_glass import break_glass_app
from gantral.cli.halt import halt_app
from gantral.cli.hook import hook_app
from gantral.cli.identity import identity_app
from gantral.cli.mcp_proxy import mcp_proxy_command
from gantral.cli.policy import policy_app
from gantral.cli.replay import replay_command
from gantral.cli.requests import requests_app
from gantral.cli.standing import standing_app

# Shell completion (typer's): `gantral --install-completion` adds it to the current shell's
# start-up file, `gantral --show-completion` prints the script to install by hand.
app = typer.Typer(help="Gantral: AI execution control plane.", no_args_is_help=True)
specs_app = typer.Typer(help="Generated specifications (OpenAPI, state machine, schemas).")
app.add_typer(specs_app, name="specs")
app.add_typer(audit_app, name="audit", help="Verify, export and manage the audit log.")
app.add_typer(policy_app, name="policy", help="Validate policies and dry-run them offline.")
app.add_typer(identity_app, name="identity", help="Development identity: tokens and issuer.")
app.command("replay")(replay_command)
app.command("mcp-proxy")(mcp_proxy_command)
app.add_typer(requests_app, name="requests", help="Approvers: list, show and decide requests.")
app.add_typer(hook_app, name="hook", help="Coding-agent hooks (Claude Code, Codex, Cursor).")
app.add_typer(halt_app, name="halt", help="The kill switch: raise, list and lift halts.")
app.add_typer(break_glass_app, name="break-glass", help="Break-glass: open, approve, list.")
app.add_typer(standing_app, name="standing", help="Standing grants: list and revoke.")


def gantral_version() -> str:
    """The installed distribution's version (the one pip reports)."""
    try:
        return version("gantral")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gantral {gantral_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Gantral: AI execution control plane."""


@app.command()
def dev(
    data_dir: Annotated[
        Path, typer.Option(help="Where every service keeps its data between runs.")
    ] = Path(".data"),
    workflows_dir: Annotated[
        Path, typer.Option(help="Workflow templates (YAML/JSON) to start instances from.")
    ] = Path("examples/workflows"),
    api_port: Annotated[int, typer.Option(help="API port.")] = 8000,
    temporal_port: Annotated[int, typer.Option(help="Temporal frontend port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    s3_port: Annotated[int, typer.Option(help="S3 (SeaweedFS) port.")] = 8333,
    issuer_port: Annotated[int, typer.Option(help="Development token issuer port.")] = 8600,
    seaweedfs_base_port: Annotated[
        int | None,
        typer.Option(
            help="First of SeaweedFS's internal ports (it also takes the next two and these"
            " three + 10000, and + 10003). Default: --s3-port + 1000."
        ),
    ] = None,
    worker_metrics_port: Annotated[
        int | None, typer.Option(help="Worker metrics port. Default: --api-port + 1464.")
    ] = None,
    sink_metrics_port: Annotated[
        int | None, typer.Option(help="Audit sink metrics port. Default: --api-port + 1465.")
    ] = None,
) -> None:
    """Run the whole control plane locally (PostgreSQL, Temporal + Web UI, S3, token issuer,
    sink, worker, API).

    Ctrl-C stops everything; a second start reuses the same data. Every port the stack
    listens on follows these options, so a second stack (its own --data-dir and other
    ports) runs beside the first; ports in use are named before anything starts.
    """
    from gantral.devstack.process import StackError
    from gantral.devstack.run import DevPorts, run_dev_stack

    ports = DevPorts.derived(
        api=api_port,
        temporal=temporal_port,
        temporal_ui=ui_port,
        s3=s3_port,
        issuer=issuer_port,
        seaweedfs_base=seaweedfs_base_port,
        worker_metrics=worker_metrics_port,
        sink_metrics=sink_metrics_port,
    )
    try:
        run_dev_stack(data_dir, ports, workflows_dir)
    except StackError as exc:
        typer.echo(f"gantral dev: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def worker() -> None:
    """Run the instance worker alone (configured by GANTRAL_* variables)."""
    from gantral.workers.worker import main as worker_main

    worker_main()


@app.command()
def sink() -> None:
    """Run the audit sink alone: the only process with audit write credentials."""
    from gantral.workers.sink import main as sink_main

    sink_main()


@app.command()
def api() -> None:
    """Run the HTTP API alone (bind address from GANTRAL_API__HOST / GANTRAL_API__PORT).

    SIGTERM drains it: readiness fails, in-flight requests finish, then it exits 0."""
    from gantral.api.serve import main as api_main

    api_main()


@app.command()
def channels() -> None:
    """Run the channel relay alone: keeps Slack messages current from the audit log."""
    from gantral.workers.channels import main as channels_main

    channels_main()


@specs_app.command("write")
def specs_write(
    directory: Annotated[Path, typer.Option(help="Where to write the specs.")] = Path("specs"),
) -> None:
    """Regenerate every generated file under specs/."""
    from gantral.specs import write_specs

    for path in write_specs(directory):
        typer.echo(f"wrote {path}")


def main() -> None:
    command = typer.main.get_command(app)
    plain_labels(command)
    command()


def plain_labels(command: Any) -> None:
    """Help shows `--skip-signatures` and `--public-key TEXT`, not typer's `<bool>` and
    `<list[str]>` (Python type names mean nothing to an operator). Typer bundles its own
    click, so parameters are recognised by what they have, not by class."""
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.metavar is None:
            bare = param.bare_type()
            many = bare.startswith("list[")
            element = bare[5:-1] if many else bare
            name = _LABELS.get(element, element.upper())
            if param.param_type_name == "argument":
                # An argument's type column ignores its metavar: give it the plain label.
                param.display_type_rich = lambda ctx, label=name: label
                name = str(param.name or name).upper()
            param.metavar = name + ("..." if many else "")
    # --help is made per invocation: label it as it is made.
    make_help = command.get_help_option

    def _help_option(ctx: Any) -> Any:
        option = make_help(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = _help_option
    for sub in getattr(command, "commands", {}).values():
        plain_labels(sub)


_LABELS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}

"""The `gantral` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Gantral: AI execution control plane.", no_args_is_help=True, add_completion=False
)
specs_app = typer.Typer(help="Generated specifications (OpenAPI, state machine, schemas).")
app.add_typer(specs_app, name="specs")


@specs_app.command("write")
def specs_write(
    directory: Annotated[Path, typer.Option(help="Where to write the specs.")] = Path("specs"),
) -> None:
    """Regenerate every generated file under specs/."""
    from gantral.specs import write_specs

    for path in write_specs(directory):
        typer.echo(f"wrote {path}")


def main() -> None:
    app()

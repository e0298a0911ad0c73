"""`gantral audit stream`: run the SIEM exporter (`gantral.workers.exporter`) with its
destination given on the command line instead of GANTRAL_EXPORTER__* variables."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from gantral.devstack.stack_file import with_local_stack
from gantral.settings.exporter import ExporterSettings
from gantral.shutdown import run_until_signalled
from gantral.startup import configure_logging, load_settings, resolve_secrets
from gantral.workers.exporter import run_exporter

__all__ = ["stream"]


def stream(
    to: Annotated[
        str | None, typer.Option("--to", help="cloudevents (HTTP POST) or ocsf (JSON lines).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="CloudEvents receiver URL.")] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="OCSF JSON-lines file; '-' for stdout.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Exporter name: the key of its stored cursor.")
    ] = None,
    data_dir: Annotated[
        Path, typer.Option(help="A `gantral dev` stack's data directory, if no database set.")
    ] = Path(".data"),
) -> None:
    """Stream committed audit events to a SIEM, at least once, resumable: CloudEvents 1.0
    over HTTP, or OCSF API Activity records as JSON lines (docs/siem.md)."""
    configure_logging()
    settings = with_local_stack(load_settings(), data_dir)
    given: dict[str, object] = {"to": to, "url": url, "file": file, "name": name}
    overrides = {k: v for k, v in given.items() if v is not None}
    if overrides.get("to") not in (None, "cloudevents", "ocsf"):
        raise typer.BadParameter("--to must be cloudevents or ocsf")
    try:
        exporter = ExporterSettings.model_validate({**settings.exporter.model_dump(), **overrides})
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]) for e in error.errors())
        raise typer.BadParameter(problems) from None
    resolved = resolve_secrets(settings.model_copy(update={"exporter": exporter}))

    async def serve(stop: asyncio.Event) -> None:
        await run_exporter(resolved, stop)

    run_until_signalled("audit exporter", serve)

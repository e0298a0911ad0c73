"""The `gantral mcp-proxy` command. Imports `mcp` only when run, so the CLI works
without the extra installed."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer


def mcp_proxy_command(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", exists=True, dir_okay=False, help="The proxy's YAML file."),
    ],
    transport: Annotated[
        str | None,
        typer.Option(help="stdio or http; overrides serve.transport in the file."),
    ] = None,
) -> None:
    """Govern any MCP server: list its tools unchanged, and call one only with a Gantral
    grant for exactly those arguments. Logs go to stderr (stdout is the MCP stream)."""
    try:
        from pydantic import ValidationError

        from gantral.integrations.mcp_proxy import load_config, run_proxy
    except ImportError as exc:  # the extra is missing
        raise typer.BadParameter(f"install gantral[mcp] first ({exc.name} missing)") from exc
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(message)s")
    try:
        settings = load_config(config)
        if transport not in (None, "stdio", "http"):
            raise ValueError(f"transport must be stdio or http, not {transport!r}")
        if transport is not None:
            settings.serve.transport = "http" if transport == "http" else "stdio"
        settings.serve.check()  # http needs serve.auth (or an explicit loopback opt-out)
        settings.gantral.auth()  # a missing secret is a usage error, found now
        settings.upstream.resolved_headers()
    except (ValidationError, ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc
    asyncio.run(run_proxy(settings))

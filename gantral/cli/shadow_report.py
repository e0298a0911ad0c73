"""`gantral policy shadow-report POLICY_ID`: the shadow report, from the operator's own
credentials (the audit log's reader, as `gantral policy backtest`).

    gantral policy shadow-report refunds-candidate --since 7d
    gantral policy shadow-report refunds-candidate --since 2026-12-01T00:00:00Z \
        --until 2026-12-08T00:00:00Z
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from gantral.audit.reader import AuditReader
from gantral.cli.replay import DataDirOpt, DsnOpt, OutOpt, SchemaOpt, _database, _emit
from gantral.devstack.stack_file import with_local_stack
from gantral.errors import GantralError
from gantral.replay.shadow_report import ShadowReport, read_shadow_report
from gantral.settings import Settings
from gantral.settings.audit import DEFAULT_SCHEMA, AuditSettings
from gantral.settings.durations import parse_duration

__all__ = ["shadow_report_command"]


def _when(value: str, now: datetime, name: str) -> datetime:
    """An ISO 8601 time (UTC when no zone is given), or a duration back from now (7d)."""
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{name} {value}: neither a duration nor a time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def shadow_report_command(
    policy_id: Annotated[str, typer.Argument(help="The shadow policy's id.")],
    since: Annotated[str, typer.Option(help="Window start: a time, or a duration ago.")] = "7d",
    until: Annotated[
        str | None, typer.Option(help="Window end (exclusive), as --since [default: now].")
    ] = None,
    out: OutOpt = None,
    dsn: DsnOpt = None,
    schema: SchemaOpt = DEFAULT_SCHEMA,
    data_dir: DataDirOpt = Path(".data"),
) -> None:
    """Where the shadow policy would have decided otherwise than the enforced ones over
    the window (at most 31 days; JSON report): outcome flips by direction, materiality
    and approver changes, shadow errors, with examples naming their instances."""
    settings = Settings() if dsn else with_local_stack(Settings(), data_dir)
    now = datetime.now(UTC)
    end = now if until is None else _when(until, now, "--until")
    start = _when(since, now, "--since")

    async def run() -> ShadowReport:
        reader = await AuditReader.open(
            _database(dsn, settings), config=AuditSettings(schema_name=schema)
        )
        try:
            return await read_shadow_report(reader.queries, policy_id, start, end, teams=None)
        finally:
            await reader.close()

    try:
        report = asyncio.run(run())
    except GantralError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    _emit(report.model_dump_json(indent=2), out)
    typer.echo(
        f"{report.evaluated} of {report.decision_points} decisions evaluated by the shadow"
        f" ({report.errors} shadow errors): {report.changed} would change {report.counts};"
        f" flips {report.flips}",
        err=True,
    )

"""`gantral replay INSTANCE_ID` and `gantral policy backtest FILE`, from the operator's own
credentials.

    gantral replay inst_4f... --out replay.json      # exit 0: match, 1: mismatch
    gantral replay inst_4f... --archive history.json --bundle bundle.json \
        --history-bundle history-bundle.json --public-key audit.pub   # offline
    gantral policy backtest stricter.yaml --workflow payments-transfer --since 30d

Reads Temporal (GANTRAL_TEMPORAL__*), the audit log with the reader credentials
(GANTRAL_DATABASE__READER_URL or --dsn) and object storage (GANTRAL_S3__*, for the
history archive once Temporal has dropped the history). Beside a `gantral dev` stack none
of these is needed: where no database is named, the stack in --data-dir (default .data)
is used, as `gantral audit verify` does. The report is signed when the
API's attestation key is configured (GANTRAL_ATTESTATION__SIGNING_KEY), else unsigned;
it names the audit head and checkpoint it was built on either way.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from gantral.attestation_keys import attestor_from
from gantral.audit.checkpoint import load_verification_keys
from gantral.audit.objects import ObjectStore
from gantral.audit.reader import AuditReader
from gantral.devstack.stack_file import with_local_stack
from gantral.errors import GantralError
from gantral.policy.loading import load_policy
from gantral.replay.backtest import BacktestReport
from gantral.replay.backtest_source import run_backtest
from gantral.replay.offline import replay_offline
from gantral.replay.report import ReplayReport
from gantral.replay.service import replay_instance
from gantral.settings import Settings
from gantral.settings.audit import DEFAULT_SCHEMA, AuditSettings
from gantral.settings.durations import parse_duration

__all__ = ["backtest_command", "replay_command"]

OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Write the report here (default: stdout).")
]
DsnOpt = Annotated[
    str | None, typer.Option("--dsn", help="PostgreSQL URI (default: the reader credentials).")
]
SchemaOpt = Annotated[str, typer.Option("--schema", help="Audit schema.")]
PrefixOpt = Annotated[str, typer.Option(help="Object key prefix of this log.")]
DataDirOpt = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="A `gantral dev` stack's data directory: its Temporal, database, S3 and public"
        " key are used when neither flags nor GANTRAL_* settings name a database.",
    ),
]


def replay_command(
    instance_id: Annotated[str, typer.Argument(help="The instance to replay.")],
    out: OutOpt = None,
    dsn: DsnOpt = None,
    schema: SchemaOpt = DEFAULT_SCHEMA,
    bucket_prefix: PrefixOpt = "",
    archive: Annotated[
        Path | None,
        typer.Option(help="Offline: the history archive file (needs --bundle, --history-bundle)."),
    ] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="Offline: the instance's evidence bundle.")
    ] = None,
    history_bundle: Annotated[
        Path | None, typer.Option(help="Offline: the bundle of gantral-history-INSTANCE.")
    ] = None,
    public_key: Annotated[
        list[str] | None,
        typer.Option(help="Offline: audit public key (default: GANTRAL_AUDIT__PUBLIC_KEYS)."),
    ] = None,
    data_dir: DataDirOpt = Path(".data"),
) -> None:
    """Replay the instance's history against this code and compare it with its audit log.

    Online (Temporal, the audit database, object storage), or offline from files with only
    the audit public keys (--archive, --bundle, --history-bundle). Exit 0 when everything
    matches, 1 on non-determinism, any divergence or an untrustworthy file, 2 when the
    instance cannot be replayed (unknown, no history and no archive)."""
    settings = Settings() if dsn else with_local_stack(Settings(), data_dir)
    try:
        if archive is not None:
            report = _offline(settings, instance_id, archive, bundle, history_bundle, public_key)
        else:
            report = asyncio.run(
                _run(settings, _database(dsn, settings), schema, bucket_prefix, instance_id)
            )
    except GantralError as error:
        typer.echo(f"error: {error.message} ({error.reason})", err=True)
        raise typer.Exit(2) from None
    _emit(report.model_dump_json(indent=2), out)
    verdict = "match" if report.match else "MISMATCH"
    typer.echo(f"{instance_id}: {verdict}", err=True)
    if report.first_divergence is not None:
        d = report.first_divergence
        typer.echo(f"  first divergence ({d.between}) at seq {d.seq} {d.field}: {d.message}",
                   err=True)  # fmt: skip
    for failure in report.nondeterminism:
        typer.echo(f"  non-deterministic at event {failure.event_id}: {failure.message}", err=True)
    if not report.match:
        raise typer.Exit(1)


def _offline(
    settings: Settings,
    instance_id: str,
    archive: Path,
    bundle: Path | None,
    history_bundle: Path | None,
    public_key: list[str] | None,
) -> ReplayReport:
    from gantral.workflows.instance import InstanceWorkflow
    from gantral.workflows.sandbox import SANDBOX_RUNNER

    if bundle is None or history_bundle is None:
        raise typer.BadParameter("--archive needs --bundle and --history-bundle")
    try:
        keys = load_verification_keys(public_key or settings.audit.public_keys)
        docs = [json.loads(p.read_bytes()) for p in (bundle, history_bundle)]
        data = archive.read_bytes()
    except (OSError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None
    if not keys:
        raise typer.BadParameter("no audit public key: pass --public-key")
    if not isinstance(docs[0], dict) or docs[0].get("instance_id") != instance_id:
        raise typer.BadParameter(f"--bundle is not the evidence bundle of {instance_id}")
    report, problems = asyncio.run(
        replay_offline(docs[0], docs[1], data, public_keys=keys, origin=settings.audit.origin,
                       workflows=[InstanceWorkflow], runner=SANDBOX_RUNNER)
    )  # fmt: skip
    for problem in problems:
        typer.echo(f"{problem.code}: {problem.message}", err=True)
    if report is None:
        raise typer.Exit(1)
    return report


def _database(dsn: str | None, settings: Settings) -> str:
    value = dsn or settings.database.reader_url.get_secret_value()
    value = value or settings.database.url.get_secret_value()
    if not value:
        raise typer.BadParameter("no database: pass --dsn or set GANTRAL_DATABASE__READER_URL")
    return value


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out}", err=True)


async def _run(
    settings: Settings, dsn: str, schema: str, prefix: str, instance_id: str
) -> ReplayReport:
    from gantral.core import connect_temporal
    from gantral.workflows.instance import InstanceWorkflow
    from gantral.workflows.sandbox import SANDBOX_RUNNER

    attestor = (
        attestor_from(settings) if settings.attestation.signing_key.get_secret_value() else None
    )
    objects = ObjectStore.from_settings(settings.s3, prefix=prefix)
    reader = await AuditReader.open(dsn, config=AuditSettings(schema_name=schema), objects=objects)
    try:
        temporal = await connect_temporal(settings)
        return await replay_instance(
            temporal, reader.queries, objects, instance_id,
            workflows=[InstanceWorkflow], runner=SANDBOX_RUNNER, attestor=attestor,
        )  # fmt: skip
    finally:
        await reader.close()


def backtest_command(
    policy_file: Annotated[Path, typer.Argument(help="The candidate policy (YAML or JSON).")],
    workflow: Annotated[str, typer.Option("--workflow", help="Instances of this workflow.")],
    since: Annotated[
        str, typer.Option(help="Instances started this long ago at most, e.g. 30d; 'all'.")
    ] = "30d",
    step: Annotated[
        str | None,
        typer.Option(help="Only this step's decisions, whatever policy governed them."),
    ] = None,
    policy_id: Annotated[
        str | None,
        typer.Option(
            "--policy-id",
            help="The policy the candidate stands in for: only steps it governed are"
            " evaluated [default: the file's `id`, else its name without extension].",
        ),
    ] = None,
    out: OutOpt = None,
    dsn: DsnOpt = None,
    schema: SchemaOpt = DEFAULT_SCHEMA,
    bucket_prefix: PrefixOpt = "",
    data_dir: DataDirOpt = Path(".data"),
) -> None:
    """What the candidate would have decided at every recorded decision point of the
    steps its policy governed in the workflow's instances (or of --step), and where that
    differs from what was decided (JSON report)."""
    settings = Settings() if dsn else with_local_stack(Settings(), data_dir)
    try:
        candidate = load_policy(policy_file.read_bytes(), source=str(policy_file))
        window = None if since == "all" else parse_duration(since)
    except OSError as error:
        raise typer.BadParameter(f"{policy_file}: {error.strerror}") from None
    except ValueError as error:  # InvalidInput is not a ValueError: handled below
        raise typer.BadParameter(f"--since {since}: {error}") from None
    except GantralError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    policy_id = policy_id or candidate.id or policy_file.stem

    async def run() -> BacktestReport:
        from gantral.core import connect_temporal

        objects = ObjectStore.from_settings(settings.s3, prefix=bucket_prefix)
        reader = await AuditReader.open(
            _database(dsn, settings), config=AuditSettings(schema_name=schema), objects=objects
        )
        try:
            return await run_backtest(
                reader.queries, objects, await connect_temporal(settings), policy_id=policy_id,
                candidate=candidate, workflow_id=workflow, since=window, step_id=step,
            )  # fmt: skip
        finally:
            await reader.close()

    report = asyncio.run(run())
    _emit(report.model_dump_json(indent=2), out)
    typer.echo(
        f"{report.evaluated} of {report.decision_points} decision points evaluated"
        f" ({report.unrecoverable} unrecoverable): {report.changed} would change"
        f" {report.counts}; {report.other_policies} at steps governed by a policy other"
        f" than {policy_id} skipped",
        err=True,
    )

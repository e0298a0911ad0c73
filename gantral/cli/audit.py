"""`gantral audit ...`: verify the log (from the database or offline bundles), keys, export.

Wire with `app.add_typer(audit_app, name="audit")` in `gantral/cli/root.py`. Verification
ends in one verdict (`gantral.audit.verdict`): VALID (0), INVALID (1) or INCONCLUSIVE (3).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import psycopg
import typer
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gantral.audit.bundle_verify import bundle_gaps, verify_bundle
from gantral.audit.checkpoint import (
    Checkpoint,
    generate_key_pem,
    key_id,
    load_public_key,
    load_verification_keys,
)
from gantral.audit.cosignature import Cosigner, parse_cosigner_key
from gantral.audit.evidence_source import evidence_archive, instances_in_window, pack_signer
from gantral.audit.evidence_verify import verify_evidence
from gantral.audit.migrations import migrate
from gantral.audit.note import NoteError, verifier_key
from gantral.audit.note_verify import check_tlog_proof
from gantral.audit.objects import ObjectStore
from gantral.audit.reader import AuditReader
from gantral.audit.verdict import EXIT_CODES, Verdict, summarize, verdict_of
from gantral.audit.verifier import VerifyReport, verify_database
from gantral.audit.verify import Problem
from gantral.audit.views import RefusalView
from gantral.cli.audit_stream import stream
from gantral.cli.output import OutputFormat, OutputOpt
from gantral.cli.witness import witness_cli
from gantral.devstack.stack_file import with_local_stack
from gantral.errors import GantralError
from gantral.policy.registry_postgres import PostgresRegistry
from gantral.settings import Settings
from gantral.settings.audit import DEFAULT_SCHEMA, AuditSettings

__all__ = ["audit_app"]

audit_app = typer.Typer(
    help="Tamper-evident audit log: verify, export, keys.", no_args_is_help=True
)

audit_app.add_typer(witness_cli, name="witness")
audit_app.command("stream")(stream)

PublicKeyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--public-key",
        help="Trusted Ed25519 public key: PEM file, inline PEM or 64 hex chars; repeat while"
        " rotating. Default: GANTRAL_AUDIT__PUBLIC_KEYS. Private keys are refused.",
    ),
]
SkipSignaturesOpt = Annotated[
    bool,
    typer.Option(
        "--skip-signatures",
        help="Verify without any public key: chains, seals and roots are checked, checkpoint"
        " signatures are NOT (and the result says so).",
    ),
]
OriginOpt = Annotated[
    str | None,
    typer.Option("--origin", help="The log's checkpoint origin (default: GANTRAL_AUDIT__ORIGIN)."),
]
DsnOpt = Annotated[
    str | None, typer.Option("--dsn", help="PostgreSQL URI (default: the reader credentials).")
]
SchemaOpt = Annotated[str, typer.Option("--schema", help="Audit schema.")]
DataDirOpt = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="A `gantral dev` stack's data directory: its database, S3 and public key are"
        " used when neither flags nor GANTRAL_* settings name them.",
    ),
]
T = TypeVar("T")


def _settings(data_dir: Path) -> Settings:
    """The environment's settings; where they name no audit database, the local stack's."""
    return with_local_stack(Settings(), data_dir)


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run against the database and object storage; failing to reach either is one clear
    line and exit status 2, never a traceback."""
    # The pool warns on every failed connection attempt; the one line below says it all.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(work)
    except (psycopg.Error, PoolTimeout) as error:
        _error(f"audit database: {_first_line(error)}")
    except (BotoCoreError, ClientError) as error:
        _error(
            f"object storage: {_first_line(error)} (set GANTRAL_S3__*, or pass --no-objects"
            " to skip snapshot checks)"
        )
    raise AssertionError("unreachable")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _trusted_keys(
    given: list[str] | None, settings: Settings, skip_signatures: bool
) -> list[Ed25519PublicKey] | None:
    """The public keys to check signatures with; None only when asked to skip them.

    Never derived from a private key: verifying must need nothing secret.
    """
    values = given or settings.audit.public_keys
    if skip_signatures:
        if values:
            raise typer.BadParameter("--skip-signatures cannot be combined with a public key")
        return None
    if not values:
        raise typer.BadParameter(
            "no public key: pass --public-key (or set GANTRAL_AUDIT__PUBLIC_KEYS); to verify"
            " without checking checkpoint signatures, pass --skip-signatures"
        )
    try:
        return load_verification_keys(values)
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"public key: {error}") from error


def _conclude(
    problems: list[Problem],
    not_checked: list[str],
    keys: list[Ed25519PublicKey] | None,
    output: OutputFormat,
    verbose: bool,
    what: str,
    **counts: int,
) -> None:
    """Print the verdict (VALID, INVALID or INCONCLUSIVE) and exit with its status."""
    verdict = verdict_of(problems, not_checked)
    if output is OutputFormat.json:
        document = {
            "verdict": str(verdict),
            "ok": verdict is Verdict.VALID,
            **counts,
            "signatures": _signatures(keys),
            "not_checked": not_checked,
            "problems": [dataclasses.asdict(problem) for problem in problems],
        }
        typer.echo(json.dumps(document, indent=2))
        raise typer.Exit(EXIT_CODES[verdict])
    for line in summarize(problems, verbose=verbose):
        typer.echo(line, err=True)
    typer.echo(f"{verdict} {what} ({_signatures(keys)})")
    for gap in not_checked:
        typer.echo(f"  not checked: {gap}")
    raise typer.Exit(EXIT_CODES[verdict])


def _witness_keys(given: list[str] | None, settings: Settings) -> list[Cosigner]:
    values = given if given is not None else [w.key for w in settings.audit.witnesses]
    try:
        return [parse_cosigner_key(value) for value in values]
    except NoteError as error:
        raise typer.BadParameter(f"--witness: {error}") from error


def _witness_gap(required: int, found: int, size: int) -> list[str]:
    if found >= required:
        return []
    at = f" (at most {found}, on checkpoint {size})" if found else ""
    return [f"{required} witness cosignature(s) required on a stored checkpoint{at}"]


def _signatures(keys: list[Ed25519PublicKey] | None) -> str:
    if keys is None:
        return "signatures NOT checked: --skip-signatures"
    return "signatures checked against key(s) " + ", ".join(key_id(k)[:16] for k in keys)


def _read_bundle(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return error


@audit_app.command("verify")
def verify(
    instance_ids: Annotated[
        list[str] | None, typer.Argument(help="Instances (default: all).")
    ] = None,
    bundle: Annotated[
        list[Path] | None, typer.Option("--bundle", help="Verify exported bundle files offline.")
    ] = None,
    evidence: Annotated[
        list[Path] | None,
        typer.Option("--evidence", help="Verify evidence packs (`audit evidence`) offline."),
    ] = None,
    public_key: PublicKeyOpt = None,
    skip_signatures: SkipSignaturesOpt = False,
    origin: OriginOpt = None,
    dsn: DsnOpt = None,
    schema: SchemaOpt = DEFAULT_SCHEMA,
    bucket_prefix: Annotated[str, typer.Option(help="Object key prefix of this log.")] = "",
    no_objects: Annotated[
        bool, typer.Option("--no-objects", help="Skip object-storage checks (snapshots, anchors).")
    ] = False,
    pinned: Annotated[
        list[Path] | None,
        typer.Option("--pinned", help="Checkpoint JSON files saved earlier (trusted anchors)."),
    ] = None,
    data_dir: DataDirOpt = Path(".data"),
    max_unsealed_days: Annotated[
        float | None,
        typer.Option(
            "--max-unsealed-days",
            help="An instance chain unsealed this many days after it started is a problem"
            " (default: GANTRAL_AUDIT__MAX_UNSEALED_AGE_DAYS).",
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A witness verifier key (`name+hash+base64`, type 0x04); repeatable."
            " Default: the keys of GANTRAL_AUDIT__WITNESSES. Other cosigners are ignored.",
        ),
    ] = None,
    witnesses: Annotated[
        int,
        typer.Option(
            "--witnesses", min=0, help="Cosignatures by those witnesses a checkpoint needs."
        ),
    ] = 0,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every problem, not one per instance.")
    ] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Verify instance chains, seals, snapshots, signed checkpoints and their notes, and
    witness cosignatures. The verdict is VALID (exit 0), INVALID (exit 1: something is
    broken) or INCONCLUSIVE (exit 3: nothing broken, but a check could not run, e.g. no
    public key, object storage skipped, fewer cosignatures than --witnesses requires).
    A broken instance is summarized in one line; --verbose lists every problem.

    With --evidence: evidence packs (`gantral audit evidence`), offline: each file against
    the manifest, each event's chain and its inclusion in the signed checkpoint note (the
    bundle and the tlog-proof), each policy version against the hash its instance pinned,
    and summary.md, claims.json and decisions.json rebuilt from the verified events. An
    unsealed instance, or a pinned policy the pack lacks, is INCONCLUSIVE.

    With --output json: one document on stdout (`verdict`, `ok`, the counts,
    `signatures`, `not_checked` and each problem's `code`, `message`, `instance_id`,
    `seq`), the same exit codes.

    An unsealed chain is a break when the access log records its execution closed outside
    Gantral, or when it is older than the maximum age. Needs only public keys. Without
    one it refuses to run unless --skip-signatures says explicitly that checkpoint
    signatures are not to be checked. Beside `make run`, no flag is needed: the local
    stack's database, object storage and public key are used.
    """
    settings = _settings(data_dir)
    keys = _trusted_keys(public_key, settings, skip_signatures)
    origin = origin or settings.audit.origin
    if max_unsealed_days is not None and not 0 < max_unsealed_days <= 36_500:
        raise typer.BadParameter("--max-unsealed-days must be above 0 and at most 36500")
    cosigners = _witness_keys(witness, settings)
    if witnesses > len(cosigners):
        raise typer.BadParameter(f"--witnesses {witnesses} needs as many --witness keys")
    not_checked = [] if keys is not None else ["checkpoint signatures (--skip-signatures)"]
    if evidence and bundle:
        raise typer.BadParameter("verify --evidence or --bundle, one at a time")
    if evidence:
        _verify_evidence(evidence, keys, origin, cosigners, witnesses, not_checked, output, verbose)
    if bundle:
        problems: list[Problem] = []
        for path in bundle:
            doc = _read_bundle(path)
            if isinstance(doc, Exception):
                problems.append(Problem("bad_bundle", f"{path}: not a readable JSON file: {doc}"))
            else:
                problems += verify_bundle(doc, keys, origin, cosigners)
                not_checked += [f"{path}: {gap}" for gap in bundle_gaps(doc, cosigners, witnesses)]
        _conclude(problems, not_checked, keys, output, verbose,
                  f"{len(bundle)} bundle(s)", bundles=len(bundle))  # fmt: skip
    objects = None if no_objects else _objects(settings, bucket_prefix)
    report = _run(
        _verify_db(
            _dsn(dsn, settings),
            AuditSettings(schema_name=schema, origin=origin),
            objects,
            keys,
            instance_ids,
            [_read_checkpoint(p) for p in pinned or []],
            timedelta(days=max_unsealed_days or settings.audit.max_unsealed_age_days),
            cosigners,
        )
    )
    if no_objects:
        not_checked.append("snapshots and object-locked anchors (--no-objects)")
    if keys is not None:
        not_checked += _witness_gap(witnesses, report.cosignatures, report.cosigned_size)
    elif witnesses:
        not_checked.append("witness cosignatures (no key to open the notes with)")
    what = (
        f"{report.instances} instance(s), {report.events} event(s), "
        f"{report.checkpoints} checkpoint(s), {report.notes} note(s)"
    )
    _conclude(
        report.problems, not_checked, keys, output, verbose, what, instances=report.instances,
        events=report.events, checkpoints=report.checkpoints, notes=report.notes,
        cosignatures=report.cosignatures,
    )  # fmt: skip


def _verify_evidence(
    paths: list[Path],
    keys: list[Ed25519PublicKey] | None,
    origin: str,
    cosigners: list[Cosigner],
    witnesses: int,
    not_checked: list[str],
    output: OutputFormat,
    verbose: bool,
) -> None:
    problems: list[Problem] = []
    counts = {"packs": len(paths), "instances": 0, "events": 0, "decisions": 0, "claims": 0}
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as error:
            problems.append(Problem("bad_evidence", f"{path}: not readable: {error}"))
            continue
        report = verify_evidence(data, keys, origin, cosigners, witnesses)
        problems += report.problems
        not_checked += [f"{path}: {gap}" for gap in report.not_checked if "--skip-sig" not in gap]
        for name in ("instances", "events", "decisions", "claims"):
            counts[name] += getattr(report, name)
    what = (
        f"{len(paths)} evidence pack(s): {counts['instances']} instance(s), "
        f"{counts['events']} event(s), {counts['decisions']} decision(s), "
        f"{counts['claims']} claim(s)"
    )
    _conclude(problems, not_checked, keys, output, verbose, what, **counts)


@audit_app.command("verify-proof")
def verify_proof(
    proof: Annotated[
        Path, typer.Argument(help="A c2sp.org/tlog-proof file (the API's `?format=tlog-proof`).")
    ],
    event_hash: Annotated[
        str, typer.Option("--event-hash", help="The event's hash (hex), the leaf it proves.")
    ],
    public_key: PublicKeyOpt = None,
    origin: OriginOpt = None,
    witness: Annotated[
        list[str] | None, typer.Option("--witness", help="A witness verifier key; repeatable.")
    ] = None,
    witnesses: Annotated[
        int, typer.Option("--witnesses", min=0, help="Cosignatures its checkpoint needs.")
    ] = 0,
    data_dir: DataDirOpt = Path(".data"),
) -> None:
    """Verify one event's inclusion proof in the standard text format, with only the
    log's public key: the checkpoint note, the RFC 9162 path, and (with --witnesses N) N
    cosignatures by the given witnesses. VALID (0), INVALID (1) or INCONCLUSIVE (3)."""
    settings = _settings(data_dir)
    keys = _trusted_keys(public_key, settings, skip_signatures=False) or []
    origin = origin or settings.audit.origin
    cosigners = _witness_keys(witness, settings)
    if witnesses > len(cosigners):
        raise typer.BadParameter(f"--witnesses {witnesses} needs as many --witness keys")
    try:
        leaf = bytes.fromhex(event_hash)
        text = proof.read_text()
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"{error}") from error
    problems, gaps = check_tlog_proof(text, leaf, keys, origin, cosigners, witnesses)
    _conclude(problems, gaps, keys, OutputFormat.text, True, f"inclusion proof {proof}")


def _read_checkpoint(path: Path) -> Checkpoint:
    try:
        return Checkpoint.model_validate_json(path.read_text())
    except (OSError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        raise typer.BadParameter(f"--pinned {path}: not a checkpoint JSON file") from error


def _dsn(dsn: str | None, settings: Settings) -> str:
    value = dsn or settings.database.reader_url.get_secret_value()
    value = value or settings.database.url.get_secret_value()
    if not value:
        raise typer.BadParameter(
            "no database: pass --dsn, set GANTRAL_DATABASE__READER_URL, or run beside a"
            " `gantral dev` stack (--data-dir)"
        )
    return value


def _objects(settings: Settings, prefix: str) -> ObjectStore:
    return ObjectStore.from_settings(settings.s3, prefix=prefix)


async def _verify_db(
    dsn: str,
    config: AuditSettings,
    objects: ObjectStore | None,
    keys: list[Ed25519PublicKey] | None,
    instance_ids: list[str] | None,
    anchors: list[Checkpoint],
    max_unsealed_age: timedelta,
    witnesses: list[Cosigner],
) -> VerifyReport:
    reader = await AuditReader.open(dsn, config=config, objects=objects)
    try:
        return await verify_database(
            reader.queries,
            objects=objects,
            public_key=keys,
            instance_ids=instance_ids or None,
            anchors=anchors,
            origin=config.origin,
            max_unsealed_age=max_unsealed_age,
            witnesses=witnesses,
        )
    finally:
        await reader.close()


@audit_app.command("export")
def export(
    instance_id: str,
    out: Annotated[Path, typer.Option("--out", help="Where to write the bundle JSON.")],
    dsn: DsnOpt = None,
    schema: SchemaOpt = DEFAULT_SCHEMA,
    bucket_prefix: Annotated[str, typer.Option(help="Object key prefix of this log.")] = "",
    data_dir: DataDirOpt = Path(".data"),
) -> None:
    """Write an instance's evidence bundle (the object-locked one when sealed)."""
    settings = _settings(data_dir)

    async def run() -> str:
        reader = await AuditReader.open(
            _dsn(dsn, settings),
            config=AuditSettings(schema_name=schema),
            objects=_objects(settings, bucket_prefix),
        )
        try:
            return (await reader.bundle(instance_id)).model_dump_json(indent=2)
        finally:
            await reader.close()

    try:
        text = _run(run())
    except GantralError as error:  # no such instance; sealed, its bundle not yet exported
        _error(str(error))
        return
    out.write_text(text)
    typer.echo(f"wrote {out}")


@audit_app.command("evidence")
def evidence(
    out: Annotated[Path, typer.Option("--out", help="Where to write the pack (tar.gz).")],
    instance: Annotated[
        list[str] | None, typer.Option("--instance", help="An instance to cover; repeatable.")
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option("--since", help="Cover instances started at or after this time (UTC)."),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option("--until", help="... and before this time (UTC)."),
    ] = None,
    team: Annotated[
        str | None, typer.Option("--team", help="With --since/--until: only this team's.")
    ] = None,
    dsn: DsnOpt = None,
    schema: SchemaOpt = DEFAULT_SCHEMA,
    registry_dsn: Annotated[
        str | None,
        typer.Option(
            "--registry-dsn",
            help="The policy registry's PostgreSQL URI (default: GANTRAL_DATABASE__REGISTRY_URL,"
            " else the audit database's).",
        ),
    ] = None,
    data_dir: DataDirOpt = Path(".data"),
) -> None:
    """Write an evidence pack: the instances' events with the signed checkpoint note and
    each event's tlog-proof, the policy versions that decided, the decisions and their
    approvers, claims mapped to EU AI Act Art. 12/14 and SOC 2 CC6/CC7 (claims.json) and
    summary.md. Reads the audit database as `audit export` does (every team's; the API's
    `GET /v1/audit/evidence` scopes to the caller's teams). With the log's key
    (GANTRAL_AUDIT__SIGNING_KEY) the manifest is signed (manifest.sig), binding the
    scope and instance set; without it a window pack verifies INCONCLUSIVE. Check the
    pack offline with `gantral audit verify --evidence OUT`."""
    settings = _settings(data_dir)
    if bool(instance) == (since is not None or until is not None):
        raise typer.BadParameter("pass --instance, or --since with --until (not both)")
    if not instance and (since is None or until is None):
        raise typer.BadParameter("--since needs --until, and --until needs --since")
    if team is not None and instance:
        raise typer.BadParameter("--team filters a --since/--until window")
    audit_dsn = _dsn(dsn, settings)
    policies_dsn = registry_dsn or settings.database.registry_url.get_secret_value() or audit_dsn

    async def run() -> bytes:
        reader = await AuditReader.open(audit_dsn, config=AuditSettings(schema_name=schema))
        try:
            async with AsyncConnectionPool(policies_dsn, open=False, min_size=1) as pool:
                registry = PostgresRegistry(pool)
                signer = pack_signer(settings.audit)  # where this shell holds the log's key
                if instance:
                    return await evidence_archive(
                        reader, registry, instance, {"instance_ids": instance}, signer
                    )
                assert since is not None and until is not None
                start, end = _utc(since), _utc(until)
                ids = await instances_in_window(reader, start, end, team, None)
                scope = {"since": start.isoformat(), "until": end.isoformat(), "team": team}
                return await evidence_archive(reader, registry, ids, scope, signer)
        finally:
            await reader.close()

    try:
        data = _run(run())
    except GantralError as error:
        _error(str(error))
        return
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({len(data)} bytes)")


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


@audit_app.command("refusals")
def refusals(
    instance: Annotated[
        str | None, typer.Option("--instance", help="Only refusals of attempts on it.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this actor id's.")] = None,
    since: Annotated[
        datetime | None,
        typer.Option("--since", help="Only those recorded at or after this time (UTC)."),
    ] = None,
    dsn: DsnOpt = None,
    schema: SchemaOpt = DEFAULT_SCHEMA,
    output: OutputOpt = OutputFormat.text,
    data_dir: DataDirOpt = Path(".data"),
) -> None:
    """List refused attempts (the access log's ACCESS_REFUSED events), oldest first,
    whichever access-log segment stores them: every team's (read from the database; the
    API's `GET /v1/audit/refusals` scopes them to the caller's teams). Each names its
    chain, seq, log index and hash, to check against the log."""
    settings = _settings(data_dir)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    async def run() -> list[RefusalView]:
        reader = await AuditReader.open(
            _dsn(dsn, settings), config=AuditSettings(schema_name=schema)
        )
        found: list[RefusalView] = []
        token: str | None = None
        try:
            while True:
                page = await reader.refusals(
                    teams=None, instance_id=instance, actor=actor, since=since,
                    page_token=token, limit=500,
                )  # fmt: skip
                found += page.items
                token = page.next_page_token
                if token is None:
                    return found
        finally:
            await reader.close()

    items = _run(run())
    if output is OutputFormat.json:
        typer.echo(json.dumps([item.model_dump(mode="json") for item in items], indent=2))
        return
    for item in items:
        typer.echo(
            f"{item.at} {item.actor.get('id')} on {item.instance_id or '-'}"
            f" ({item.request_id or '-'}): {item.reason}: {item.attempted}"
            f" [{item.chain_id}#{item.seq} log {item.log_index} {item.hash[:16]}]"
        )
    typer.echo(f"{len(items)} refusal(s)", err=True)


@audit_app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Private key file (PEM, mode 0600).")],
) -> None:
    """Create an Ed25519 checkpoint signing key; writes OUT and OUT.pub, prints the key id."""
    private, public = generate_key_pem()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(private)
    pub_path = out.with_name(out.name + ".pub")
    pub_path.write_text(public)
    typer.echo(f"wrote {out} and {pub_path}; key id {key_id(load_public_key(public))}")


@audit_app.command("key")
def note_key(
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            "--public-key",
            help="Ed25519 public key (PEM file, inline PEM or 64 hex); repeatable."
            " Default: GANTRAL_AUDIT__PUBLIC_KEYS.",
        ),
    ] = None,
    origin: Annotated[
        str | None,
        typer.Option("--origin", help="The log's origin (default: GANTRAL_AUDIT__ORIGIN)."),
    ] = None,
    data_dir: DataDirOpt = Path(".data"),
) -> None:
    """Print the checkpoint verifier key in the C2SP signed-note form `name+keyhash+base64`.

    That is what standard note verifiers take (Go's `note.NewVerifier`, witnesses) to
    check the checkpoint notes served at /v1/audit/checkpoints/latest/note. One line per
    key (several while rotating); the key name is the log's origin.
    """
    settings = _settings(data_dir)
    keys = _trusted_keys(public_key, settings, skip_signatures=False) or []
    name = origin or settings.audit.origin
    try:
        lines = [verifier_key(name, key) for key in keys]
    except NoteError as error:
        _error(f"--origin: {error}")
        return
    for line in lines:
        typer.echo(line)


@audit_app.command("migrate")
def migrate_schema(
    dsn: Annotated[str, typer.Option("--dsn", help="An owner/admin PostgreSQL URI.")],
    schema: SchemaOpt = DEFAULT_SCHEMA,
) -> None:
    """Create or upgrade the audit schema and its roles (the sink also does this at start).

    Run once as an admin when the sink's own login role (a member of
    `gantral_audit_writer`) may not create schemas.
    """
    version = asyncio.run(migrate(dsn, AuditSettings(schema_name=schema)))
    typer.echo(f"audit schema {schema} at version {version}")

"""Verification against live storage: the database chains and log, object-storage anchors.

The object-locked checkpoints and bundles are the trust anchors: an attacker with full
database access can rewrite tables and even re-chain them, but cannot re-sign the
checkpoints or remove what object lock retains.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError

from gantral.audit.bundle import BUNDLE_PREFIX
from gantral.audit.checkpoint import Checkpoint, PublicKeys, key_list
from gantral.audit.checkpointer import (
    CHECKPOINT_NOTE_PREFIX_KEY,
    CHECKPOINT_PREFIX_KEY,
    COSIGNED_NOTE_PREFIX_KEY,
)
from gantral.audit.closures import (
    CLOSED_CHAIN_PREFIX,
    closure_of,
    is_closed_chain,
    is_governed_chain,
    unsealed_problems,
)
from gantral.audit.cosignature import Cosigner
from gantral.audit.merkle import MerkleTree
from gantral.audit.note_verify import StoredNote, best_cosigned, note_verifiers, verify_notes
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries, CheckpointKind
from gantral.audit.rows import EventRow, SealRow
from gantral.audit.verdict import verdict_of
from gantral.audit.verify import Problem, verify_chain, verify_checkpoints, verify_log_indices
from gantral.audit.views import ProblemView, VerifyView
from gantral.errors import NotFound
from gantral.settings.audit import DEFAULT_ORIGIN

__all__ = [
    "NO_PUBLIC_KEY",
    "VerifyReport",
    "stored_checkpoints",
    "verify_database",
    "verify_instance",
]

# The problem of a verdict made without a public key: configuration, not tampering.
NO_PUBLIC_KEY = "no_public_key"


@dataclass
class VerifyReport:
    instances: int = 0
    events: int = 0
    checkpoints: int = 0
    signatures_checked: bool = False
    problems: list[Problem] = field(default_factory=list)
    notes: int = 0
    """Checkpoint notes checked (plain and cosigned, database and object storage)."""
    cosignatures: int = 0
    """The most cosignatures by the given witnesses on one stored checkpoint note."""
    cosigned_size: int = 0
    """The size of that checkpoint."""

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_database(
    queries: AuditQueries,
    *,
    objects: ObjectStore | None,
    public_key: PublicKeys | None,
    instance_ids: Sequence[str] | None = None,
    check_log: bool = True,
    anchors: Sequence[Checkpoint] = (),
    origin: str = DEFAULT_ORIGIN,
    max_unsealed_age: timedelta | None = None,
    now: datetime | None = None,
    witnesses: Sequence[Cosigner] = (),
) -> VerifyReport:
    """Verify the given instances (all when None), plus the global log and its checkpoints.

    `public_key` is the trusted key, or several while rotating; None checks no signature
    (`signatures_checked` says so). `anchors` are checkpoints the caller already holds
    (pinned by an auditor, or fetched once from object storage), checked like the stored
    ones; every checkpoint must name `origin`. An unsealed instance chain is a problem
    when the access log records its execution closed around Gantral, or when it started
    more than `max_unsealed_age` before `now` (`gantral.audit.closures`). The stored
    checkpoint notes are checked too (with the keys), and their cosignatures by
    `witnesses` counted (`cosignatures`); whether that count is enough is the caller's.
    Given `instance_ids`, only the stored checkpoints and notes those instances rely on
    are read (the first covering their events and the newest), however long the log.
    """
    keys = key_list(public_key) or None
    report = VerifyReport(signatures_checked=keys is not None)
    if instance_ids is None:
        seals = await queries.seals()
    else:  # the given instances' seals only, not one row per sealed instance
        seals = {}
        for iid in instance_ids:
            seals.update(await queries.seals(iid))
    chains: dict[str, list[EventRow]] = {}
    if instance_ids is None:
        async for row in queries.all_events():
            chains.setdefault(row.instance_id, []).append(row)
        for sealed in seals.keys() - chains.keys():
            chains[sealed] = []
    else:
        for iid in instance_ids:
            chains[iid] = await queries.instance_events(iid)
            if not chains[iid] and iid not in seals:
                report.problems.append(Problem("unknown_instance", "no events stored", iid))
    for iid, rows in chains.items():
        report.instances += 1
        report.events += len(rows)
        report.problems += verify_chain(iid, rows, seals.get(iid))
        if objects is not None:
            report.problems += await _check_snapshots(objects, iid, rows)
    report.problems += await _check_unsealed(
        queries, chains, seals, whole=instance_ids is None,
        max_age=max_unsealed_age, now=now or datetime.now(UTC),
    )  # fmt: skip
    if check_log:
        # Checkpoints and notes first, then the log: a checkpoint signed while this runs
        # covers events read after it, never before (the sink checkpoints committed
        # events only, and log indices commit in order).
        # One instance relies on the checkpoints covering its events and on the newest
        # (truncation, and every leaf below it): only those are read, so verifying one
        # instance does not grow with the log's checkpoints. The whole log reads them all.
        need = None if instance_ids is None else _covered_size(chains.values())
        labelled, unreadable = await _checkpoints(queries, objects, anchors, need)
        plain, cosigned = await _notes(queries, objects, need) if keys is not None else ([], [])
        leaves = await queries.leaves()
        tree = MerkleTree(row.hash for row in leaves)
        report.problems += unreadable + verify_log_indices(row.log_index for row in leaves)
        report.checkpoints = len(labelled)
        broken: set[int] = set()
        for source, cp in labelled:
            found = verify_checkpoints(tree, [(source, cp)], keys, origin)
            if found:
                broken.add(cp.size)
                report.problems += found
        if keys is not None:
            # A checkpoint already reported broken is not reported again through its note.
            notes = [n for n in (*plain, *cosigned) if n.size not in broken]
            report.notes = len(plain) + len(cosigned)
            report.problems += verify_notes(tree, notes, note_verifiers(origin, keys), origin)
            best, size, bad = best_cosigned(cosigned, witnesses)
            report.cosignatures, report.cosigned_size = best, size
            report.problems += bad
        if objects is not None and instance_ids is None:
            by_index = {row.log_index: row.hash for row in leaves}
            report.problems += await _check_bundles(objects, seals, set(chains), by_index)
    return report


async def _check_unsealed(
    queries: AuditQueries,
    chains: dict[str, list[EventRow]],
    seals: dict[str, SealRow],
    *,
    whole: bool,
    max_age: timedelta | None,
    now: datetime,
) -> list[Problem]:
    """Unsealed instance chains of executions closed around Gantral, or left open too long."""
    open_ = [iid for iid, rows in chains.items() if rows and iid not in seals]
    open_ = [iid for iid in open_ if is_governed_chain(iid)]
    if not open_:
        return []
    if whole:
        records = {c: r for c, r in chains.items() if is_closed_chain(c)}
    else:
        records = {}
        for iid in open_:
            records.update(await queries.chains_with_prefix(f"{CLOSED_CHAIN_PREFIX}{iid}-"))
    closures: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for chain, rows in sorted(records.items()):
        closure = closure_of(rows)
        # Matched on the recorded instance id, not the chain name's prefix alone.
        if closure is not None and isinstance(closure.get("instance_id"), str):
            closures.setdefault(closure["instance_id"], []).append((chain, closure))
    problems = []
    for iid in open_:
        for code, message, seq in unsealed_problems(
            iid, chains[iid], closures.get(iid, []), max_age, now
        ):
            problems.append(Problem(code, message, iid, seq))
    return problems


async def _check_snapshots(objects: ObjectStore, iid: str, rows: list[EventRow]) -> list[Problem]:
    problems = []
    for row in rows:
        if row.snapshot_key is None:
            continue
        data = await objects.get(row.snapshot_key)
        if data is None:
            problems.append(Problem("snapshot_missing", f"object {row.snapshot_key} is missing",
                                    iid, row.seq))  # fmt: skip
        elif hashlib.sha256(data).hexdigest() != row.snapshot_hash:
            problems.append(Problem("snapshot_tampered", f"object {row.snapshot_key} does not "
                                    "match its hash", iid, row.seq))  # fmt: skip
    return problems


def _covered_size(chains: Iterable[list[EventRow]]) -> int:
    """The log size that covers every given event (0 when there are none)."""
    return max((row.log_index + 1 for rows in chains for row in rows), default=0)


def _relied_on(sizes: Iterable[int], need: int) -> set[int]:
    """Of the stored checkpoint sizes, those checking the log's first `need` entries relies
    on: the newest (a log shorter than it was truncated; its root covers every leaf below
    it) and the first covering all `need` (the one the events were first signed under)."""
    listed = sorted(sizes)
    if not listed:
        return set()
    return {listed[-1], *[size for size in listed if size >= need][:1]}


async def _checkpoints(
    queries: AuditQueries,
    objects: ObjectStore | None,
    anchors: Sequence[Checkpoint],
    need: int | None,
) -> tuple[list[tuple[str, Checkpoint]], list[Problem]]:
    """The checkpoints to check, labelled by where they came from, and the unreadable ones:
    every stored one when `need` is None, else those `_relied_on` in either store (each
    read from both, so the database and the object-locked copy are compared)."""
    if need is None:
        labelled = [("database", cp) for cp in await queries.checkpoints()]
        labelled += [("pinned", cp) for cp in anchors]
        if objects is None:
            return labelled, []
        stored, unreadable = await _stored_checkpoints(objects)
        return labelled + [("object-storage", cp) for cp in stored], unreadable
    listed = {} if objects is None else await _listed(objects, CHECKPOINT_PREFIX_KEY)
    sizes = await queries.relied_on_sizes("checkpoint", need) | _relied_on(listed, need)
    labelled = [("database", cp) for cp in await queries.checkpoints(sizes)]
    labelled += [("pinned", cp) for cp in anchors]
    if objects is None:
        return labelled, []
    stored, unreadable = await _read_checkpoints(objects, _chosen(listed, sizes))
    return labelled + [("object-storage", cp) for cp in stored], unreadable


async def _notes(
    queries: AuditQueries, objects: ObjectStore | None, need: int | None
) -> tuple[list[StoredNote], list[StoredNote]]:
    """The stored checkpoint notes, plain and cosigned by witnesses: all when `need` is
    None, else those `_relied_on` (as for `_checkpoints`)."""
    plain = await _notes_of("note", queries.checkpoint_notes, CHECKPOINT_NOTE_PREFIX_KEY,
                            queries, objects, need)  # fmt: skip
    cosigned = await _notes_of("cosigned", queries.cosigned_checkpoint_notes,
                               COSIGNED_NOTE_PREFIX_KEY, queries, objects, need)  # fmt: skip
    return plain, cosigned


async def _notes_of(
    kind: CheckpointKind,
    read: Callable[[set[int] | None], Awaitable[list[tuple[int, str]]]],
    prefix: str,
    queries: AuditQueries,
    objects: ObjectStore | None,
    need: int | None,
) -> list[StoredNote]:
    listed = {} if objects is None else await _listed(objects, prefix)
    sizes = None
    if need is not None:
        sizes = await queries.relied_on_sizes(kind, need) | _relied_on(listed, need)
    notes = [StoredNote("database", size, note) for size, note in await read(sizes)]
    if objects is not None:
        notes += await _read_notes(objects, _chosen(listed, sizes))
    return notes


async def _listed(objects: ObjectStore, prefix: str) -> dict[int, list[str]]:
    """The object keys under `prefix` by the size their name gives (names only: listing
    reads no object; keys whose name gives no size are left out, as they always were)."""
    by_size: dict[int, list[str]] = {}
    for key in await objects.keys(prefix):
        stem = key.rsplit("/", 1)[-1].split(".", 1)[0]
        if stem.isdigit():
            by_size.setdefault(int(stem), []).append(key)
    return by_size


def _chosen(listed: dict[int, list[str]], sizes: set[int] | None) -> list[tuple[int, str]]:
    """The (size, key) pairs to read: all, or those of `sizes`."""
    pairs = [(size, key) for size, keys in listed.items() for key in keys]
    return sorted(p for p in pairs if sizes is None or p[0] in sizes)


async def _read_notes(objects: ObjectStore, keys: list[tuple[int, str]]) -> list[StoredNote]:
    found = []
    for size, key in keys:
        data = await objects.get(key)
        if data is not None:
            found.append(StoredNote("object-storage", size, data.decode("utf-8", "replace")))
    return found


async def stored_checkpoints(objects: ObjectStore) -> list[Checkpoint]:
    """The object-locked checkpoints, oldest first (unreadable ones left out)."""
    return (await _stored_checkpoints(objects))[0]


async def _stored_checkpoints(objects: ObjectStore) -> tuple[list[Checkpoint], list[Problem]]:
    keys = await objects.keys(CHECKPOINT_PREFIX_KEY)
    return await _read_checkpoints(objects, list(enumerate(keys)))


async def _read_checkpoints(
    objects: ObjectStore, keys: list[tuple[int, str]]
) -> tuple[list[Checkpoint], list[Problem]]:
    found, problems = [], []
    for _, key in keys:
        data = await objects.get(key)
        if data is None:
            continue
        try:
            found.append(Checkpoint.model_validate_json(data))
        except ValidationError:
            problems.append(Problem("bad_checkpoint", f"object {key} is not a checkpoint"))
    return found, problems


async def verify_instance(
    queries: AuditQueries,
    instance_id: str,
    *,
    objects: ObjectStore | None,
    public_keys: PublicKeys | None,
    origin: str = DEFAULT_ORIGIN,
    max_unsealed_age: timedelta | None = None,
) -> VerifyView:
    """One instance's verdict for the API: `ok` only when signatures were checked too."""
    report = await verify_database(
        queries, objects=objects, public_key=public_keys, instance_ids=[instance_id],
        origin=origin, max_unsealed_age=max_unsealed_age,
    )  # fmt: skip
    unknown = [p for p in report.problems if p.code == "unknown_instance"]
    if unknown and report.events == 0:
        raise NotFound(f"no audit events for instance {instance_id}")
    if not report.signatures_checked:
        report.problems.append(
            Problem(NO_PUBLIC_KEY, "no audit public key is configured "
                    "(GANTRAL_AUDIT__PUBLIC_KEYS): checkpoint signatures were not checked")
        )  # fmt: skip
    broken = [p for p in report.problems if p.code != NO_PUBLIC_KEY]
    gaps = [] if report.signatures_checked else ["checkpoint signatures"]
    return VerifyView(
        instance_id=instance_id,
        verdict=verdict_of(broken, gaps),
        ok=report.ok,
        events=report.events,
        checkpoints=report.checkpoints,
        signatures_checked=report.signatures_checked,
        problems=[ProblemView(**vars(p)) for p in report.problems],
    )


async def _check_bundles(
    objects: ObjectStore,
    seals: dict[str, SealRow],
    present: set[str],
    by_index: dict[int, bytes],
) -> list[Problem]:
    """Every exported (object-locked) bundle must still match a sealed chain in the database.

    Comparing event hashes position by position names the first rewritten event even
    when the attacker re-chained the instance so that its own hashes are consistent.
    """
    problems = []
    for key in await objects.keys(BUNDLE_PREFIX):
        iid = unquote(key[len(BUNDLE_PREFIX) :].rsplit("/", 1)[0])
        data = await objects.get(key)
        if data is None:
            continue
        try:
            bundle = json.loads(data)
        except ValueError:
            bundle = None
        if not isinstance(bundle, dict):
            problems.append(Problem("bad_bundle", f"object {key} is not a JSON object", iid))
            continue
        seal_doc = bundle.get("seal")
        head = seal_doc.get("head") if isinstance(seal_doc, dict) else None
        seal = seals.get(iid)
        if iid not in present or seal is None:
            problems.append(Problem("instance_missing", "exported evidence bundle exists but the "
                                    "instance is gone from the database", iid))  # fmt: skip
        elif seal.head_hash.hex() != head:
            problems.append(Problem("seal_head_mismatch", "database seal differs from the "
                                    "exported bundle", iid, seal.seq))  # fmt: skip
        problems += _diff_bundle(iid, bundle, by_index)
    return problems


def _diff_bundle(iid: str, bundle: dict[str, Any], by_index: dict[int, bytes]) -> list[Problem]:
    try:
        for event in bundle.get("events", []):
            index = int(event["log_index"])
            stored = by_index.get(index)
            if stored is None or stored.hex() != event["hash"]:
                what = "is missing" if stored is None else "differs from the exported bundle"
                seq = int(event["seq"])
                return [Problem("bundle_mismatch", f"log index {index} {what}", iid, seq)]
    except (KeyError, TypeError, ValueError) as error:
        return [Problem("bad_bundle", f"exported bundle is malformed: {error!r}", iid)]
    return []

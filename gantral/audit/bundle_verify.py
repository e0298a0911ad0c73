"""Offline verification of an exported evidence bundle with only the public key.

Checks the chain from the exact body bytes, the seal, that the decisions and snapshot
references listed match the chain, the checkpoint's origin and signature, and an RFC 9162
inclusion proof for every event against the signed root. A malformed bundle of any shape
is a `bad_bundle` problem, never an exception.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from gantral.audit.bundle import BUNDLE_FORMAT
from gantral.audit.checkpoint import Checkpoint, PublicKeys, key_list, verify_checkpoint
from gantral.audit.cosignature import Cosigner
from gantral.audit.merkle import leaf_hash, verify_inclusion
from gantral.audit.note import NoteError, open_checkpoint
from gantral.audit.note_verify import StoredNote, best_cosigned, note_verifiers
from gantral.audit.rows import EventRow, SealRow
from gantral.audit.verify import Problem, verify_chain
from gantral.domain.audit_event import AuditEventType
from gantral.settings.audit import DEFAULT_ORIGIN

__all__ = ["bundle_gaps", "bundle_rows", "verify_bundle", "verify_history_archive"]


def _rows(instance_id: str, events: list[dict[str, Any]]) -> list[EventRow]:
    rows = []
    for e in events:
        body = str(e["body"]).encode()
        parsed = json.loads(body)
        ref = (parsed.get("snapshot") if isinstance(parsed, dict) else None) or {}
        if not isinstance(ref, dict):
            ref = {}
        rows.append(
            EventRow(
                int(e["log_index"]),
                instance_id,
                int(e["seq"]),
                str(e["type"]),
                body,
                bytes.fromhex(e["prev_hash"]),
                bytes.fromhex(e["hash"]),
                ref.get("key"),
                ref.get("sha256"),
            )
        )
    return rows


def bundle_rows(bundle: dict[str, Any]) -> list[EventRow]:
    """The bundle's events as stored rows (for a replay against the bundle, offline).
    Verify the bundle with `verify_bundle` first; a malformed one raises here."""
    return _rows(str(bundle["instance_id"]), list(bundle["events"]))


def verify_bundle(
    bundle: object,
    public_key: PublicKeys | None,
    origin: str = DEFAULT_ORIGIN,
    witnesses: Sequence[Cosigner] = (),
) -> list[Problem]:
    """Every problem with an evidence bundle (parsed JSON of any shape), empty when it holds.

    `public_key` is the trusted key, or several while rotating; None skips only the
    checkpoint signature, which the caller must then say it did not check. The embedded
    checkpoint note (when there is one) must open under the same keys and say what the
    JSON checkpoint says; cosignatures by `witnesses` on it must verify (count them with
    `bundle_gaps`).
    """
    if not isinstance(bundle, dict):
        return [Problem("bad_bundle", f"a bundle is a JSON object, not {_kind(bundle)}")]
    instance_id = str(bundle.get("instance_id", "?"))
    if bundle.get("format") != BUNDLE_FORMAT:
        return [Problem("bad_bundle", f"unknown bundle format {bundle.get('format')}", instance_id)]
    try:
        rows = _rows(instance_id, list(bundle["events"]))
        seal_doc = bundle.get("seal")
        seal = None
        if seal_doc is not None:
            seal = SealRow(
                instance_id,
                int(seal_doc["seq"]),
                int(seal_doc["log_index"]),
                bytes.fromhex(seal_doc["head"]),
            )
        checkpoint = _checkpoint(bundle)
        proofs = _proofs(bundle.get("inclusion") or [])
    except (KeyError, TypeError, ValueError, ValidationError) as error:
        return [Problem("bad_bundle", f"malformed bundle: {error!r}", instance_id)]
    problems = verify_chain(instance_id, rows, seal)
    if seal is None:
        problems.append(Problem("not_sealed", "bundle has no seal", instance_id))
    bodies = [b for b in (json.loads(r.body) for r in rows) if isinstance(b, dict)]
    if bundle.get("decisions") != [
        b for b in bodies if b.get("type") == AuditEventType.DECISION_RECORDED
    ]:
        problems.append(
            Problem("decisions_mismatch", "decisions differ from the chain", instance_id)
        )
    if bundle.get("snapshots") != [b["snapshot"] for b in bodies if b.get("snapshot")]:
        problems.append(
            Problem("snapshots_mismatch", "snapshots differ from the chain", instance_id)
        )
    if checkpoint is None:
        return [*problems, Problem("no_checkpoint", "bundle has no signed checkpoint", instance_id)]
    if checkpoint.origin != origin:
        problems.append(
            Problem(
                "wrong_origin",
                f"checkpoint origin {checkpoint.origin!r}, expected {origin!r}",
                instance_id,
            )
        )
    problems += _inclusion_problems(instance_id, rows, checkpoint, proofs)
    if public_key is not None:
        why = verify_checkpoint(checkpoint, public_key)
        if why is not None:
            problems.append(Problem("bad_signature", why, instance_id))
        problems += _note_problems(bundle, checkpoint, key_list(public_key), origin, witnesses)
    return problems


def _note_problems(
    bundle: dict[str, Any],
    checkpoint: Checkpoint,
    keys: list[Ed25519PublicKey],
    origin: str,
    witnesses: Sequence[Cosigner],
) -> list[Problem]:
    note = bundle.get("checkpoint_note")
    instance_id = str(bundle.get("instance_id", "?"))
    if note is None:
        return []
    if not isinstance(note, str):
        return [Problem("bad_note", "checkpoint_note is not a string", instance_id)]
    try:
        body = open_checkpoint(note, note_verifiers(origin, keys), origin)
    except NoteError as error:
        return [Problem("bad_note", f"checkpoint note: {error}", instance_id)]
    if body.size != checkpoint.size or body.root.hex() != checkpoint.root:
        return [Problem("note_mismatch", "the checkpoint note differs from the checkpoint",
                        instance_id)]  # fmt: skip
    _, _, bad = best_cosigned([StoredNote("bundle", body.size, note)], witnesses)
    return [Problem(p.code, p.message, instance_id) for p in bad]


def bundle_gaps(bundle: object, witnesses: Sequence[Cosigner], required: int) -> list[str]:
    """What a bundle cannot show: `required` cosignatures by `witnesses` on its checkpoint
    note (a bundle that verifies otherwise is then INCONCLUSIVE, not VALID)."""
    if required <= 0 or not isinstance(bundle, dict):
        return []
    note = bundle.get("checkpoint_note")
    if not isinstance(note, str):
        return ["the bundle has no checkpoint note to carry witness cosignatures"]
    count, _, bad = best_cosigned([StoredNote("bundle", 0, note)], witnesses)
    if bad or count >= required:
        return []
    return [f"{count} of {required} required witness cosignature(s) on its checkpoint"]


def _kind(value: object) -> str:
    return "null" if value is None else f"a JSON {type(value).__name__}"


def _checkpoint(bundle: dict[str, Any]) -> Checkpoint | None:
    doc = bundle.get("checkpoint")
    if doc is None:
        return None
    cp = Checkpoint.model_validate(doc)
    bytes.fromhex(cp.root)  # a root that is not hex is malformed, like any other field
    return cp


def _proofs(inclusion: list[dict[str, Any]]) -> dict[int, list[bytes]]:
    return {int(p["log_index"]): [bytes.fromhex(h) for h in p["proof"]] for p in inclusion}


def _inclusion_problems(
    instance_id: str, rows: list[EventRow], cp: Checkpoint, proofs: dict[int, list[bytes]]
) -> list[Problem]:
    root = bytes.fromhex(cp.root)
    problems = []
    for row in rows:
        proof = proofs.get(row.log_index)
        if proof is None:
            problems.append(
                Problem(
                    "no_inclusion_proof",
                    f"no proof for log index {row.log_index}",
                    instance_id,
                    row.seq,
                )
            )
        elif not verify_inclusion(leaf_hash(row.hash), row.log_index, cp.size, proof, root):
            problems.append(
                Problem(
                    "not_included",
                    f"not in the log at index {row.log_index} of signed checkpoint {cp.size}",
                    instance_id,
                    row.seq,
                )
            )
    return problems


def verify_history_archive(bundle: object, archive: bytes) -> list[Problem]:
    """Problems with a history archive file against the evidence bundle of its record
    chain (`gantral-history-<instance>`, see `gantral.audit.history_archive`). Verify the
    bundle itself with `verify_bundle` first: this checks only that the bundle records
    this archive, by SHA-256, for the instance the archive says it belongs to."""
    if not isinstance(bundle, dict) or not isinstance(bundle.get("events"), list):
        return [Problem("bad_bundle", "not an evidence bundle")]
    chain = str(bundle.get("instance_id", "?"))
    records = []
    for event in bundle["events"]:
        try:
            body = json.loads(str(event["body"]))
        except (KeyError, TypeError, ValueError):
            return [Problem("bad_bundle", "an event body is not JSON", chain)]
        if isinstance(body, dict) and body.get("type") == AuditEventType.HISTORY_ARCHIVED:
            records.append(body.get("payload") or {})
    if len(records) != 1:
        return [Problem("not_a_history_record", "the bundle records no history archive", chain)]
    [record] = records
    problems = []
    digest = hashlib.sha256(archive).hexdigest()
    if digest != record.get("sha256"):
        message = f"archive SHA-256 {digest} is not the recorded {record.get('sha256')}"
        problems.append(Problem("history_archive_mismatch", message, chain))
    try:
        owner = json.loads(archive).get("instance_id")
    except (ValueError, AttributeError):
        owner = None
    if owner != record.get("instance_id") or chain != f"gantral-history-{owner}":
        message = f"archive of {owner!r} is recorded for {record.get('instance_id')!r} in {chain}"
        problems.append(Problem("history_archive_mismatch", message, chain))
    return problems

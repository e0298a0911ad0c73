"""Offline verification of an evidence pack (`gantral.audit.evidence`) with only the log's
public key: every file against the manifest, each instance's bundle (hash chain, seal,
inclusion of every event in the signed checkpoint note: `verify_bundle`), each event's
c2sp.org/tlog-proof, each pinned policy version against the hash its instance pinned, the
derived files (summary.md, claims.json, decisions.json) rebuilt byte for byte, the
manifest's signature by the log's key (`manifest.sig`: its scope, generated_at and
instance set), and the scope against the verified events (`evidence_scope`).

Returns problems (any: INVALID) and what could not be checked (then INCONCLUSIVE): no
key, an instance not sealed yet, a pinned policy the pack does not carry, a window pack
whose manifest is not signed (an instance left out of it would not show).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from gantral.audit.bundle_verify import bundle_gaps, verify_bundle
from gantral.audit.cosignature import Cosigner
from gantral.audit.evidence import (
    EVIDENCE_FORMAT,
    MANIFEST,
    NOTE,
    EvidenceFormatError,
    derived_files,
    instance_dir,
    policy_path,
    read_archive,
)
from gantral.audit.evidence_claims import InstanceRecord, UnreadableEvent, pinned_policies
from gantral.audit.evidence_scope import (
    MANIFEST_SIGNATURE,
    manifest_signature_problems,
    scope_problems,
)
from gantral.audit.note_verify import check_tlog_proof
from gantral.audit.proofs import ProofFormatError, parse_tlog_proof
from gantral.audit.verify import Problem
from gantral.policy.models import Policy

__all__ = ["EvidenceReport", "verify_evidence"]


@dataclass
class EvidenceReport:
    problems: list[Problem] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    instances: int = 0
    events: int = 0
    decisions: int = 0
    claims: int = 0


def verify_evidence(
    data: bytes,
    keys: Sequence[Ed25519PublicKey] | None,
    origin: str,
    witnesses: Sequence[Cosigner] = (),
    required: int = 0,
) -> EvidenceReport:
    report = EvidenceReport()
    try:
        files = read_archive(data)
        manifest = json.loads(files[MANIFEST])
        if not isinstance(manifest, dict) or manifest.get("format") != EVIDENCE_FORMAT:
            raise EvidenceFormatError(f"not a {EVIDENCE_FORMAT} manifest")
        listed = dict(manifest["files"])
        ids = [str(i) for i in manifest["instances"]]
        bundles = [json.loads(files[f"{instance_dir(i)}/bundle.json"]) for i in ids]
    except (EvidenceFormatError, KeyError, TypeError, ValueError) as error:
        report.problems.append(Problem("bad_evidence", f"not a readable evidence pack: {error!r}"))
        return report
    report.problems += _manifest_problems(files, listed)
    _check_signature(report, files, manifest, keys, origin)
    note = files.get(NOTE, b"").decode(errors="replace")
    for instance_id, bundle in zip(ids, bundles, strict=True):
        _check_instance(report, files, instance_id, bundle, note, keys, origin, witnesses)
        report.not_checked += [
            f"{instance_id}: {g}" for g in bundle_gaps(bundle, witnesses, required)
        ]
    if not ids:
        report.not_checked.append("the pack covers no instance")
    if keys is None:
        report.not_checked.append("checkpoint signatures (--skip-signatures)")
    try:
        rebuilt = derived_files(manifest, bundles)
    except UnreadableEvent as error:
        # Claims of an event no model reads would be guesses: the pack cannot hold.
        report.problems.append(Problem("bad_evidence", str(error), error.instance_id, error.seq))
        return report
    except (KeyError, TypeError, ValueError) as error:
        report.problems.append(Problem("bad_evidence", f"cannot rebuild the summary: {error!r}"))
        return report
    report.problems += scope_problems(manifest, [InstanceRecord.from_bundle(b) for b in bundles])
    for name, expected in rebuilt.items():
        if files.get(name) != expected:
            report.problems.append(
                Problem("derived_mismatch", f"{name} is not what the verified events say")
            )
    checkpoint = bundles[0].get("checkpoint") if bundles else None
    if isinstance(checkpoint, dict) and manifest.get("checkpoint") != {
        k: checkpoint.get(k) for k in ("origin", "size", "root")
    }:
        report.problems.append(Problem("derived_mismatch", "the manifest's checkpoint differs"))
    report.decisions = len(json.loads(rebuilt["decisions.json"]))
    report.claims = len(json.loads(rebuilt["claims.json"])["claims"])
    return report


def _check_signature(
    report: EvidenceReport,
    files: dict[str, bytes],
    manifest: dict[str, Any],
    keys: Sequence[Ed25519PublicKey] | None,
    origin: str,
) -> None:
    """The manifest signed by the log's key; unsigned, a window's completeness is open."""
    signature = files.get(MANIFEST_SIGNATURE)
    if signature is None:
        scope = manifest.get("scope")
        if not (isinstance(scope, dict) and "instance_ids" in scope):
            report.not_checked.append(
                "the window's scope, instance set and generated_at: manifest.json is not"
                " signed by the log's key, so an instance left out would not show"
                " (docs/non-claims.md)"
            )
        return
    if keys is not None:  # without keys: said once, with the checkpoint signatures
        report.problems += manifest_signature_problems(files[MANIFEST], signature, keys, origin)


def _manifest_problems(files: dict[str, bytes], listed: dict[str, Any]) -> list[Problem]:
    problems = []
    present = set(files) - {MANIFEST, MANIFEST_SIGNATURE}
    for name in sorted(present ^ set(listed)):
        where = "not listed in" if name in present else "missing, though listed in"
        problems.append(Problem("evidence_file_mismatch", f"{name} is {where} the manifest"))
    for name in sorted(present & set(listed)):
        if hashlib.sha256(files[name]).hexdigest() != listed[name]:
            problems.append(
                Problem("evidence_file_mismatch", f"{name} does not match its manifest hash")
            )
    return problems


def _check_instance(
    report: EvidenceReport,
    files: dict[str, bytes],
    instance_id: str,
    bundle: dict[str, Any],
    note: str,
    keys: Sequence[Ed25519PublicKey] | None,
    origin: str,
    witnesses: Sequence[Cosigner],
) -> None:
    report.instances += 1
    if not isinstance(bundle, dict) or bundle.get("instance_id") != instance_id:
        report.problems.append(Problem("bad_evidence", "bundle of another instance", instance_id))
        return
    for problem in verify_bundle(bundle, None if keys is None else list(keys), origin, witnesses):
        if problem.code == "not_sealed":
            report.not_checked.append(f"{instance_id}: not sealed, its record may still grow")
        else:
            report.problems.append(problem)
    if bundle.get("checkpoint_note") != note:
        report.problems.append(
            Problem(
                "note_mismatch", "the bundle's checkpoint note is not checkpoint.note", instance_id
            )
        )
    events = bundle.get("events")
    if not isinstance(events, list):
        return
    report.events += len(events)
    for event in events:
        _check_proof(report, files, instance_id, event, keys, origin)
    _check_policies(report, files, instance_id, events)


def _check_proof(
    report: EvidenceReport,
    files: dict[str, bytes],
    instance_id: str,
    event: dict[str, Any],
    keys: Sequence[Ed25519PublicKey] | None,
    origin: str,
) -> None:
    seq = event.get("seq")
    text = files.get(f"{instance_dir(instance_id)}/proofs/{seq}.tlog-proof")
    if text is None:
        report.problems.append(Problem("no_inclusion_proof", "no tlog-proof", instance_id, seq))
        return
    try:
        index = parse_tlog_proof(text.decode()).index
        leaf = bytes.fromhex(str(event.get("hash")))
    except (ProofFormatError, UnicodeDecodeError, ValueError) as error:
        report.problems.append(Problem("bad_proof", str(error), instance_id, seq))
        return
    if index != event.get("log_index"):
        message = f"tlog-proof for index {index}, the event is at {event.get('log_index')}"
        report.problems.append(Problem("not_included", message, instance_id, seq))
    if keys is None:
        return  # the note's signature cannot be checked; said once, in not_checked
    problems, _ = check_tlog_proof(text.decode(), leaf, keys, origin)
    report.problems += [Problem(p.code, p.message, instance_id, seq) for p in problems]


def _check_policies(
    report: EvidenceReport, files: dict[str, bytes], instance_id: str, events: list[Any]
) -> None:
    try:
        pins = pinned_policies(instance_id, events)
    except UnreadableEvent:
        return  # a problem at its seq: the derived files cannot be rebuilt without it
    for step, pin in sorted(pins.items()):
        if pin.get("inline"):
            continue  # an inline policy is in the template, whose hash the event records
        path = policy_path(str(pin.get("id")), int(pin.get("version") or 0))
        data = files.get(path)
        if data is None:
            report.not_checked.append(
                f"{instance_id}: step {step}'s policy {path} is not in the pack"
            )
            continue
        try:
            doc = json.loads(data)
            computed = Policy.model_validate(doc["policy"]).content_hash()
        except (KeyError, TypeError, ValueError, ValidationError) as error:
            report.problems.append(Problem("policy_mismatch", f"{path}: {error!r}", instance_id))
            continue
        if not computed == doc.get("content_hash") == pin.get("content_hash"):
            message = f"{path} hashes to {computed}, the instance pinned {pin.get('content_hash')}"
            report.problems.append(Problem("policy_mismatch", message, instance_id))

"""Offline verification of an exported evidence bundle with only the public key.

Checks the chain from the exact body bytes, the seal, that the decisions and snapshot
references listed match the chain, the checkpoint signature, and an RFC 9162 inclusion
proof for every event against the signed root.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gantral.audit.bundle import BUNDLE_FORMAT
from gantral.audit.checkpoint import Checkpoint, verify_checkpoint
from gantral.audit.merkle import leaf_hash, verify_inclusion
from gantral.audit.rows import EventRow, SealRow
from gantral.audit.verify import Problem, verify_chain

__all__ = ["verify_bundle", "verify_bundle_signature"]


def _rows(instance_id: str, events: list[dict[str, Any]]) -> list[EventRow]:
    rows = []
    for e in events:
        body = str(e["body"]).encode()
        ref = json.loads(body).get("snapshot") or {}
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


def verify_bundle(bundle: dict[str, Any], public_key: Ed25519PublicKey) -> list[Problem]:
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
    except (KeyError, TypeError, ValueError) as error:
        return [Problem("bad_bundle", f"malformed bundle: {error!r}", instance_id)]
    problems = verify_chain(instance_id, rows, seal)
    if seal is None:
        problems.append(Problem("not_sealed", "bundle has no seal", instance_id))
    bodies = [json.loads(r.body) for r in rows]
    if bundle.get("decisions") != [b for b in bodies if b.get("type") == "DECISION_RECORDED"]:
        problems.append(
            Problem("decisions_mismatch", "decisions differ from the chain", instance_id)
        )
    if bundle.get("snapshots") != [b["snapshot"] for b in bodies if b.get("snapshot")]:
        problems.append(
            Problem("snapshots_mismatch", "snapshots differ from the chain", instance_id)
        )
    problems += _check_inclusion(instance_id, rows, bundle)
    bad_signature = verify_bundle_signature(bundle, public_key)
    if bad_signature is not None:
        problems.append(bad_signature)
    return problems


def _check_inclusion(
    instance_id: str, rows: list[EventRow], bundle: dict[str, Any]
) -> list[Problem]:
    if bundle.get("checkpoint") is None:
        return [Problem("no_checkpoint", "bundle has no signed checkpoint", instance_id)]
    cp = Checkpoint.model_validate(bundle["checkpoint"])
    return _inclusion_problems(instance_id, rows, cp, bundle.get("inclusion") or [])


def _inclusion_problems(
    instance_id: str, rows: list[EventRow], cp: Checkpoint, inclusion: list[dict[str, Any]]
) -> list[Problem]:
    proofs = {int(p["log_index"]): [bytes.fromhex(h) for h in p["proof"]] for p in inclusion}
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


def verify_bundle_signature(bundle: dict[str, Any], public_key: Ed25519PublicKey) -> Problem | None:
    cp = bundle.get("checkpoint")
    if cp is None:
        return None
    why = verify_checkpoint(Checkpoint.model_validate(cp), public_key)
    return None if why is None else Problem("bad_signature", why, str(bundle.get("instance_id")))

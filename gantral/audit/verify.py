"""Pure verification of instance chains, the global log, and evidence bundles.

Every break is reported as a `Problem` naming the instance, the sequence number and what
is wrong, so `gantral audit verify` can exit non-zero with a precise message. Nothing
here trusts the stored hashes: each one is recomputed from the stored bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gantral.audit.checkpoint import Checkpoint, PublicKeys, verify_checkpoint
from gantral.audit.encoding import GENESIS, chain_hash
from gantral.audit.merkle import MerkleTree
from gantral.audit.rows import EventRow, SealRow
from gantral.audit.snapshots import snapshot_key
from gantral.domain.audit_event import AuditEventType
from gantral.settings.audit import DEFAULT_ORIGIN

__all__ = ["Problem", "verify_chain", "verify_checkpoints", "verify_log_indices"]

SEAL_TYPE = AuditEventType.INSTANCE_SEALED


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    instance_id: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        where = []
        if self.instance_id is not None:
            where.append(f"instance {self.instance_id}")
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        prefix = " ".join(where) if where else "log"
        return f"{prefix}: {self.message} [{self.code}]"


def _body(row: EventRow) -> dict[str, Any] | None:
    try:
        value = json.loads(row.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _check_body(instance_id: str, row: EventRow, body: dict[str, Any] | None) -> list[Problem]:
    def problem(code: str, message: str) -> Problem:
        return Problem(code, message, instance_id, row.seq)

    if body is None:
        return [problem("bad_body", "stored body is not a JSON object")]
    out = []
    if body.get("instance_id") != instance_id or body.get("seq") != row.seq:
        out.append(
            problem(
                "misplaced_event",
                f"body says instance {body.get('instance_id')} seq {body.get('seq')}",
            )
        )
    if body.get("type") != row.type:
        out.append(problem("type_mismatch", f"body type {body.get('type')} != column {row.type}"))
    ref = body.get("snapshot")
    ref_key = ref.get("key") if isinstance(ref, dict) else None
    ref_hash = ref.get("sha256") if isinstance(ref, dict) else None
    if (ref_key, ref_hash) != (row.snapshot_key, row.snapshot_hash):
        out.append(problem("snapshot_ref_mismatch", "snapshot columns differ from the body"))
    if isinstance(ref_hash, str) and ref_key != snapshot_key(ref_hash):
        out.append(problem("snapshot_ref_mismatch", "snapshot key is not its content address"))
    return out


def verify_chain(instance_id: str, rows: Sequence[EventRow], seal: SealRow | None) -> list[Problem]:
    """The instance chain: seqs 1..n, each hash recomputed, each link to the previous hash."""
    problems: list[Problem] = []
    prev, expected = GENESIS, 1
    for i, row in enumerate(rows):
        if row.seq != expected:
            problems.append(
                Problem(
                    "missing_event",
                    f"expected seq {expected}, found seq {row.seq}",
                    instance_id,
                    expected,
                )
            )
        problems += _check_body(instance_id, row, _body(row))
        if row.prev_hash != prev:
            problems.append(
                Problem(
                    "broken_link",
                    "prev_hash is not the hash of the previous event",
                    instance_id,
                    row.seq,
                )
            )
        if chain_hash(row.prev_hash, row.body) != row.hash:
            problems.append(
                Problem(
                    "hash_mismatch",
                    "stored hash does not match the stored body",
                    instance_id,
                    row.seq,
                )
            )
        if row.type == SEAL_TYPE and i != len(rows) - 1:
            problems.append(Problem("after_seal", "events follow the seal", instance_id, row.seq))
        prev, expected = row.hash, row.seq + 1
    problems += _check_seal(instance_id, rows, seal)
    return problems


def _check_seal(instance_id: str, rows: Sequence[EventRow], seal: SealRow | None) -> list[Problem]:
    last = rows[-1] if rows else None
    if seal is None:
        if last is not None and last.type == SEAL_TYPE:
            return [Problem("seal_record_missing", "seal event has no seal record",
                            instance_id, last.seq)]  # fmt: skip
        return []
    if last is None:
        return [Problem("instance_missing", "sealed instance has no events", instance_id, seal.seq)]
    if last.seq != seal.seq or last.type != SEAL_TYPE:
        return [Problem("truncated", f"sealed at seq {seal.seq} but chain ends at seq {last.seq}",
                        instance_id, seal.seq)]  # fmt: skip
    if last.hash != seal.head_hash:
        return [Problem("seal_head_mismatch", "chain head differs from the recorded seal head",
                        instance_id, seal.seq)]  # fmt: skip
    return []


def verify_log_indices(indices: Iterable[int]) -> list[Problem]:
    """Global log indices must be exactly 0..n-1: a hole means events were deleted."""
    problems: list[Problem] = []
    expected = 0
    for index in indices:
        if index != expected:
            problems.append(
                Problem("log_hole", f"global log index {expected}..{index - 1} missing")
            )
        expected = index + 1
    return problems


def verify_checkpoints(
    tree: MerkleTree,
    checkpoints: Iterable[tuple[str, Checkpoint]],
    public_keys: PublicKeys | None,
    origin: str = DEFAULT_ORIGIN,
) -> list[Problem]:
    """Each checkpoint (labelled by where it came from) is signed by a trusted key, names
    this log's origin, and matches the log. Without keys, signatures are not checked: the
    caller must say so (see `VerifyReport.signatures_checked`), never report them good."""
    problems: list[Problem] = []
    for source, cp in checkpoints:
        label = f"{source} checkpoint size {cp.size}"
        if public_keys is not None:
            why = verify_checkpoint(cp, public_keys)
            if why is not None:
                problems.append(Problem("bad_signature", f"{label}: {why}"))
        if cp.origin != origin:
            problems.append(
                Problem("wrong_origin", f"{label}: origin {cp.origin!r}, expected {origin!r}")
            )
        if cp.size > tree.size:
            problems.append(
                Problem("log_truncated", f"{label} but the log has only {tree.size} events")
            )
        elif tree.root(cp.size).hex() != cp.root:
            problems.append(
                Problem("root_mismatch", f"{label}: log root differs (events changed or removed)")
            )
    return problems

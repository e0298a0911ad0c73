"""Pure checks of stored checkpoint notes (c2sp.org/tlog-checkpoint) and their witness
cosignatures (c2sp.org/tlog-cosignature) against the log.

Each note must open under the log's key and origin, name the size it is stored under,
and carry the root the log has at that size. Cosignatures are counted per note, from the
given witnesses only (unknown signers are ignored, as the spec says); a configured
witness's line that does not verify is a problem, not a missing cosignature.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gantral.audit.cosignature import Cosigner, verified_cosigners
from gantral.audit.merkle import MerkleTree, leaf_hash, verify_inclusion
from gantral.audit.note import NoteError, NoteVerifier, key_hash, open_checkpoint
from gantral.audit.proofs import ProofFormatError, parse_tlog_proof
from gantral.audit.verify import Problem

__all__ = ["StoredNote", "best_cosigned", "check_tlog_proof", "note_verifiers", "verify_notes"]


@dataclass(frozen=True)
class StoredNote:
    source: str
    """Where it was read (database, object-storage, bundle): for the message."""
    size: int
    note: str


def note_verifiers(origin: str, keys: Iterable[Ed25519PublicKey]) -> list[NoteVerifier]:
    """The log's keys as note verifiers: the key name is the origin."""
    return [NoteVerifier(origin, key_hash(origin, key), key) for key in keys]


def verify_notes(
    tree: MerkleTree, notes: Iterable[StoredNote], verifiers: Sequence[NoteVerifier], origin: str
) -> list[Problem]:
    problems = []
    for stored in notes:
        label = f"{stored.source} checkpoint note size {stored.size}"
        try:
            body = open_checkpoint(stored.note, verifiers, origin)
        except NoteError as error:
            problems.append(Problem("bad_note", f"{label}: {error}"))
            continue
        if body.size != stored.size:
            problems.append(Problem("note_mismatch", f"{label} says size {body.size}"))
        elif body.size > tree.size:
            problems.append(Problem("log_truncated", f"{label} but the log has {tree.size}"))
        elif tree.root(body.size) != body.root:
            problems.append(Problem("root_mismatch", f"{label}: log root differs"))
    return problems


def best_cosigned(
    notes: Iterable[StoredNote], witnesses: Sequence[Cosigner]
) -> tuple[int, int, list[Problem]]:
    """(most cosignatures by the given witnesses on one note, that note's size, problems)."""
    best, size, problems = 0, 0, []
    for stored in notes:
        try:
            count = len(verified_cosigners(stored.note, witnesses))
        except NoteError as error:
            label = f"{stored.source} cosigned note size {stored.size}"
            problems.append(Problem("bad_cosignature", f"{label}: {error}"))
            continue
        if count > best or (count == best and stored.size > size):
            best, size = count, stored.size
    return best, size, problems


def check_tlog_proof(
    text: str,
    event_hash: bytes,
    keys: Sequence[Ed25519PublicKey],
    origin: str,
    witnesses: Sequence[Cosigner] = (),
    required: int = 0,
) -> tuple[list[Problem], list[str]]:
    """(problems, what could not be shown) for a c2sp.org/tlog-proof of the event whose
    hash is `event_hash`: its note opens under `keys` and `origin`, the path leads from
    the event's leaf to the note's root, and `required` cosignatures by `witnesses`."""
    try:
        proof = parse_tlog_proof(text)
        body = open_checkpoint(proof.checkpoint, note_verifiers(origin, keys), origin)
    except (ProofFormatError, NoteError) as error:
        return [Problem("bad_proof", str(error))], []
    if len(event_hash) != 32:
        return [Problem("bad_proof", "an event hash is 32 bytes")], []
    if not verify_inclusion(leaf_hash(event_hash), proof.index, body.size, proof.proof, body.root):
        message = f"not in the log at index {proof.index} of checkpoint {body.size}"
        return [Problem("not_included", message)], []
    stored = StoredNote("proof", body.size, proof.checkpoint)
    count, _, bad = best_cosigned([stored], witnesses)
    if bad or count >= required:
        return bad, []
    return [], [f"{count} of {required} required witness cosignature(s) on its checkpoint"]

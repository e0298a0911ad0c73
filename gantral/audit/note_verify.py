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
from gantral.audit.merkle import MerkleTree
from gantral.audit.note import NoteError, NoteVerifier, key_hash, open_checkpoint
from gantral.audit.verify import Problem

__all__ = ["StoredNote", "best_cosigned", "note_verifiers", "verify_notes"]


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

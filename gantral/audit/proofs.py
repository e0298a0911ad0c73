"""Merkle proofs in the C2SP text formats, so tools that already exist can check them.

Inclusion (c2sp.org/tlog-proof), one RFC 6962 inclusion path plus the checkpoint note
of the tree it is relative to, verbatim:

    c2sp.org/tlog-proof@v1\\n
    [extra <base64>\\n]
    index <leaf index, decimal, no leading zero>\\n
    <base64 hash>\\n ...          (leaf's sibling first, up to the root's child)
    \\n
    <checkpoint note, verbatim>

Consistency (the proof lines of c2sp.org/tlog-witness `add-checkpoint`): one RFC 6962
consistency-proof hash per line, standard base64, each line ending in a newline; at
most 63 lines; an empty proof is the empty string.

The hashes are RFC 9162 SHA-256 node hashes, the same bytes Go's sumdb/tlog computes.
Parsing is strict (canonical base64, exactly 32-byte hashes, no stray lines) because a
lenient parser is where two readers of one proof start to disagree. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gantral.audit.merkle import HASH_SIZE

__all__ = [
    "MAX_CONSISTENCY_LINES",
    "TLOG_PROOF_HEADER",
    "ProofFormatError",
    "TlogProof",
    "encode_consistency_lines",
    "encode_tlog_proof",
    "parse_consistency_lines",
    "parse_tlog_proof",
]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
MAX_CONSISTENCY_LINES = 63
"""tlog-witness: a client MUST NOT send more (a tree of 2**63 leaves needs no more)."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class ProofFormatError(ValueError):
    """A proof text that is malformed (not one that fails to verify)."""


@dataclass(frozen=True)
class TlogProof:
    index: int
    proof: list[bytes]
    checkpoint: str
    """The checkpoint note, verbatim: open it with `gantral.audit.note.open_checkpoint`."""
    extra: bytes | None = None


def _b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


def _hash_line(line: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(line.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ProofFormatError(f"{what} is not standard base64: {line[:60]!r}") from error
    if len(raw) != HASH_SIZE or _b64(raw) != line:
        raise ProofFormatError(f"{what} is not one canonical base64 32-byte hash: {line[:60]!r}")
    return raw


def _check_hashes(proof: Sequence[bytes]) -> None:
    for h in proof:
        if len(h) != HASH_SIZE:
            raise ProofFormatError(f"a proof hash must be {HASH_SIZE} bytes, not {len(h)}")


def encode_tlog_proof(
    index: int, proof: Sequence[bytes], checkpoint_note: str, *, extra: bytes | None = None
) -> str:
    """A c2sp.org/tlog-proof text for leaf `index`, relative to `checkpoint_note`."""
    if index < 0:
        raise ProofFormatError("a leaf index cannot be negative")
    _check_hashes(proof)
    if not checkpoint_note or not checkpoint_note.endswith("\n"):
        raise ProofFormatError("the checkpoint note must be a complete signed note")
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append(f"extra {_b64(extra)}")
    lines.append(f"index {index}")
    lines.extend(_b64(h) for h in proof)
    return "\n".join(lines) + "\n\n" + checkpoint_note


def parse_tlog_proof(text: str) -> TlogProof:
    """The parts of a c2sp.org/tlog-proof text. Verifies nothing: open the checkpoint
    under the trusted keys, then check the path with `merkle.verify_inclusion`."""
    head, sep, checkpoint = text.partition("\n\n")
    if not sep or not checkpoint:
        raise ProofFormatError("a tlog-proof needs an empty line before its checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise ProofFormatError(f"a tlog-proof starts with the line {TLOG_PROOF_HEADER!r}")
    rest = lines[1:]
    extra: bytes | None = None
    if rest and rest[0].startswith("extra "):
        value = rest[0][len("extra ") :]
        try:
            extra = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as error:
            raise ProofFormatError("the extra line is not standard base64") from error
        rest = rest[1:]
    if not rest or not rest[0].startswith("index "):
        raise ProofFormatError("a tlog-proof needs an `index N` line")
    number = rest[0][len("index ") :]
    if not _DECIMAL.fullmatch(number):
        raise ProofFormatError(f"the index must be a decimal without leading zeroes: {number!r}")
    hashes = [_hash_line(line, f"proof line {i + 1}") for i, line in enumerate(rest[1:])]
    return TlogProof(int(number), hashes, checkpoint, extra)


def encode_consistency_lines(proof: Sequence[bytes]) -> str:
    """The tlog-witness consistency-proof lines: one base64 hash per newline-ended line."""
    _check_hashes(proof)
    if len(proof) > MAX_CONSISTENCY_LINES:
        raise ProofFormatError(f"a consistency proof has at most {MAX_CONSISTENCY_LINES} hashes")
    return "".join(_b64(h) + "\n" for h in proof)


def parse_consistency_lines(text: str) -> list[bytes]:
    """The hashes of tlog-witness consistency-proof lines (strict inverse of the encoder)."""
    if text == "":
        return []
    if not text.endswith("\n"):
        raise ProofFormatError("every consistency proof line must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) > MAX_CONSISTENCY_LINES:
        raise ProofFormatError(f"a consistency proof has at most {MAX_CONSISTENCY_LINES} hashes")
    return [_hash_line(line, f"consistency line {i + 1}") for i, line in enumerate(lines)]

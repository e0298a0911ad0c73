"""The C2SP tlog-witness protocol (c2sp.org/tlog-witness): the `add-checkpoint` body, and
a witness that checks what logs submit and cosigns it.

    POST <prefix>/add-checkpoint
    old <size of the previous checkpoint>\\n
    <consistency proof lines, base64, one hash each>
    \\n
    <checkpoint note>

The witness answers, per the spec: 404 for an origin it does not know, 403 when no
trusted key signed the note, 400 for a malformed body or an old size above the new one,
409 (`text/x.tlog.size`, its size) when the old size is not the last one it cosigned, or
when the size is the same but the root differs (a split view), 422 when the consistency
proof does not verify, and 200 with its cosignature lines otherwise. A refused
checkpoint that is validly signed is kept as evidence of the log's misbehaviour.

`Witness.add_checkpoint` is pure given its state; the caller makes check-and-update
atomic (one lock) and persists `WitnessState`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.cosignature import cosign
from gantral.audit.merkle import verify_consistency
from gantral.audit.note import NoteError, NoteVerifier, open_checkpoint
from gantral.audit.proofs import (
    ProofFormatError,
    encode_consistency_lines,
    parse_consistency_lines,
)

__all__ = [
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "Witness",
    "WitnessAnswer",
    "WitnessState",
    "encode_add_checkpoint",
    "parse_add_checkpoint",
]

SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD = re.compile(r"old (0|[1-9][0-9]*)")


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str


def encode_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> str:
    if old_size < 0:
        raise ProofFormatError("the old size cannot be negative")
    return f"old {old_size}\n{encode_consistency_lines(proof)}\n{note}"


def parse_add_checkpoint(body: str) -> AddCheckpoint:
    """The parts of an add-checkpoint body; ProofFormatError when it is malformed."""
    head, sep, note = body.partition("\n\n")
    if not sep or not note:
        raise ProofFormatError("an add-checkpoint body has an empty line before its checkpoint")
    first, _, rest = head.partition("\n")
    match = _OLD.fullmatch(first)
    if match is None:
        raise ProofFormatError("an add-checkpoint body starts with `old <size>`")
    proof = parse_consistency_lines(rest + "\n" if rest else "")
    return AddCheckpoint(int(match.group(1)), proof, note)


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class WitnessState:
    """Per origin, the last cosigned (size, root); and refused checkpoints as evidence."""

    latest: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    refused: list[dict[str, str | int]] = field(default_factory=list)

    def to_json(self) -> str:
        latest = {
            o: {"size": s, "root": base64.b64encode(r).decode()}
            for o, (s, r) in self.latest.items()
        }
        return json.dumps({"latest": latest, "refused": self.refused}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> WitnessState:
        doc = json.loads(text)
        latest = {
            o: (int(v["size"]), base64.b64decode(v["root"]))
            for o, v in doc.get("latest", {}).items()
        }
        return cls(latest, list(doc.get("refused", [])))


class Witness:
    def __init__(
        self,
        name: str,
        key: Ed25519PrivateKey,
        logs: Mapping[str, Sequence[NoteVerifier]],
        state: WitnessState,
        clock: Callable[[], int],
    ) -> None:
        """`logs`: the origins it witnesses and the keys it trusts for each."""
        self.name = name
        self._key = key
        self._logs = logs
        self.state = state
        self._clock = clock

    def add_checkpoint(self, body: bytes) -> WitnessAnswer:
        try:
            request = parse_add_checkpoint(body.decode("utf-8"))
            origin = request.note.partition("\n")[0]
        except (ProofFormatError, UnicodeDecodeError) as error:
            return WitnessAnswer(400, f"{error}\n")
        keys = self._logs.get(origin)
        if keys is None:
            return WitnessAnswer(404, f"unknown log origin {origin!r}\n")
        try:
            checkpoint = open_checkpoint(request.note, keys, origin)
        except NoteError as error:
            return WitnessAnswer(403, f"{error}\n")
        if request.old_size > checkpoint.size:
            return WitnessAnswer(400, "the old size is above the checkpoint size\n")
        size, root = self.state.latest.get(origin, (0, b""))
        if request.old_size != size:
            return WitnessAnswer(409, f"{size}\n", SIZE_CONTENT_TYPE)
        if size == checkpoint.size and root != checkpoint.root:
            self._refuse(origin, request.note, "split view: same size, different root")
            return WitnessAnswer(409, f"{size}\n", SIZE_CONTENT_TYPE)
        consistent = (
            (not request.proof)
            if size == 0
            else verify_consistency(size, checkpoint.size, request.proof, root, checkpoint.root)
        )
        if not consistent:
            self._refuse(origin, request.note, f"not consistent with size {size}")
            return WitnessAnswer(422, "the consistency proof does not verify\n")
        self.state.latest[origin] = (checkpoint.size, checkpoint.root)
        text = request.note[: request.note.rfind("\n\n") + 1]
        return WitnessAnswer(200, cosign(text, self.name, self._key, self._clock()))

    def _refuse(self, origin: str, note: str, why: str) -> None:
        self.state.refused.append({"origin": origin, "note": note, "why": why})

"""The log's side of c2sp.org/tlog-witness: submit each new checkpoint note to the
configured witnesses and collect their cosignatures.

The client keeps no state of its own: it starts from the size it last saw each witness
cosign (0 after a restart) and, on a 409 naming the witness's size, proves consistency
from that size instead, once. A witness that has cosigned a larger tree, or the same
size with another root (a split view), is never argued with: its refusal is logged and
the checkpoint is not published as cosigned by it. Unknown signers in an answer are
ignored, as the spec requires; an answer whose line from the witness does not verify
counts as no cosignature.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from gantral.audit.cosignature import Cosigner, parse_cosigner_key, verified_cosigners
from gantral.audit.merkle import MerkleTree
from gantral.audit.note import NoteError
from gantral.audit.witness import SIZE_CONTENT_TYPE, encode_add_checkpoint

__all__ = ["WitnessEndpoint", "WitnessRefusal", "Witnessing"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WitnessEndpoint:
    cosigner: Cosigner
    url: str
    """The submission prefix: `add-checkpoint` is appended."""

    @classmethod
    def parse(cls, key: str, url: str) -> WitnessEndpoint:
        return cls(parse_cosigner_key(key), url.rstrip("/"))


@dataclass(frozen=True)
class WitnessRefusal:
    witness: str
    status: int
    message: str


class Witnessing:
    def __init__(
        self,
        witnesses: Sequence[WitnessEndpoint],
        quorum: int,
        http: httpx.AsyncClient,
    ) -> None:
        if not 0 <= quorum <= len(witnesses):
            raise ValueError(f"a witness quorum of {quorum} needs at least as many witnesses")
        self.witnesses = list(witnesses)
        self.quorum = quorum
        self._http = http
        self._sizes: dict[str, int] = {}
        self.refusals: list[WitnessRefusal] = []
        """Every refusal seen (newest last): a split view or inconsistency shows here."""

    async def cosign(self, note: str, tree: MerkleTree, size: int) -> str | None:
        """`note` with every cosignature obtained, when at least `quorum` verified (and at
        least one); None otherwise."""
        lines = []
        for witness in self.witnesses:
            line = await self._ask(witness, note, tree, size)
            if line is not None:
                lines.append(line)
        if not lines or len(lines) < self.quorum:
            log.warning(
                "checkpoint %d: %d witness cosignature(s), quorum %d: not published as cosigned",
                size,
                len(lines),
                self.quorum,
            )
            return None
        return note + "".join(lines)

    async def _ask(
        self, witness: WitnessEndpoint, note: str, tree: MerkleTree, size: int
    ) -> str | None:
        name = witness.cosigner.name
        old = min(self._sizes.get(name, 0), size)
        for _attempt in range(2):
            proof = tree.consistency_proof(old, size) if 0 < old < size else []
            try:
                answer = await self._http.post(
                    f"{witness.url}/add-checkpoint",
                    content=encode_add_checkpoint(old, proof, note).encode(),
                )
            except httpx.HTTPError as error:
                self._refused(name, 0, f"unreachable: {error!r}")
                return None
            if answer.status_code == 200:
                self._sizes[name] = size
                return self._line(witness, note, answer.text)
            theirs = _size(answer) if answer.status_code == 409 else None
            if theirs is None or theirs == old or theirs > size:
                self._refused(name, answer.status_code, answer.text.strip()[:200])
                return None
            old = theirs
        self._refused(name, 409, "the witness's size changed twice")
        return None

    def _line(self, witness: WitnessEndpoint, note: str, body: str) -> str | None:
        """The witness's own verified cosignature line from its answer."""
        prefix = f"\u2014 {witness.cosigner.name} "
        for line in body.splitlines(keepends=True):
            if not line.startswith(prefix) or not line.endswith("\n"):
                continue
            try:
                if verified_cosigners(note + line, [witness.cosigner]):
                    return line
            except NoteError:
                continue
        self._refused(witness.cosigner.name, 200, "no valid cosignature in its answer")
        return None

    def _refused(self, name: str, status: int, message: str) -> None:
        log.warning("witness %s refused or failed (%s): %s", name, status, message)
        self.refusals.append(WitnessRefusal(name, status, message))


def _size(answer: httpx.Response) -> int | None:
    if not answer.headers.get("content-type", "").startswith(SIZE_CONTENT_TYPE):
        return None
    text = answer.text
    if not text.endswith("\n") or not text[:-1].isdigit() or not text.isascii():
        return None
    return int(text[:-1])

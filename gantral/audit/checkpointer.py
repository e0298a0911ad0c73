"""Keeps an in-memory Merkle tree in step with the database and publishes signed checkpoints.

Each checkpoint is signed twice with the same key: as Gantral's JSON checkpoint and as a
C2SP `tlog-checkpoint` signed note (`gantral.audit.note`) that standard verifiers and
witnesses read; both are stored verbatim. Checkpoints go to object storage first (the
anchor an attacker with database access cannot rewrite) and then to PostgreSQL.
Concurrent requests coalesce under one lock, so a burst of seals produces one checkpoint
rather than one per seal.

With witnesses configured (`gantral.audit.witnessing`), each new note is then submitted
to them; when the quorum cosigns, the cosigned note is stored the same way (bucket, then
PostgreSQL). A witness that refuses or cannot be reached never stops the log: the
checkpoint is simply not published as cosigned, and verification requiring cosignatures
says so.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gantral.audit.checkpoint import Checkpoint, sign_checkpoint
from gantral.audit.merkle import MerkleTree
from gantral.audit.note import sign_checkpoint_note
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.audit.store import AuditWriter
from gantral.audit.witnessing import Witnessing

__all__ = [
    "CHECKPOINT_NOTE_PREFIX_KEY",
    "CHECKPOINT_PREFIX_KEY",
    "COSIGNED_NOTE_PREFIX_KEY",
    "Checkpointer",
    "LogDivergence",
    "checkpoint_key",
    "checkpoint_note_key",
    "cosigned_note_key",
    "sync_tree",
]

CHECKPOINT_PREFIX_KEY = "checkpoints/"
# A prefix of its own: readers of `checkpoints/` parse every object there as JSON.
CHECKPOINT_NOTE_PREFIX_KEY = "checkpoint-notes/"
COSIGNED_NOTE_PREFIX_KEY = "checkpoint-cosigned/"


def checkpoint_key(size: int) -> str:
    """Zero-padded so listing the prefix returns checkpoints in size order."""
    return f"{CHECKPOINT_PREFIX_KEY}{size:020d}.json"


def checkpoint_note_key(size: int) -> str:
    return f"{CHECKPOINT_NOTE_PREFIX_KEY}{size:020d}.note"


def cosigned_note_key(size: int) -> str:
    return f"{COSIGNED_NOTE_PREFIX_KEY}{size:020d}.note"


async def sync_tree(tree: MerkleTree, queries: AuditQueries) -> None:
    """Append every committed leaf the tree does not have yet."""
    for row in await queries.leaves(tree.size):
        if row.log_index != tree.size:
            raise RuntimeError(f"audit log has a hole at index {tree.size}")
        tree.append(row.hash)


class LogDivergence(RuntimeError):
    """The stored log contradicts a signed checkpoint: it was tampered with."""


class Checkpointer:
    def __init__(
        self,
        queries: AuditQueries,
        writer: AuditWriter,
        objects: ObjectStore,
        key: Ed25519PrivateKey,
        origin: str,
        witnessing: Witnessing | None = None,
    ) -> None:
        self.tree = MerkleTree()
        self._queries = queries
        self._writer = writer
        self._objects = objects
        self._key = key
        self._origin = origin
        self.witnessing = witnessing
        self._lock = asyncio.Lock()
        self._latest: Checkpoint | None = None
        # Set while the stored log contradicts what was signed (as of the last publish).
        self.divergence: LogDivergence | None = None

    async def publish(self, min_size: int = 0) -> Checkpoint | None:
        """A checkpoint covering at least `min_size` leaves (and everything committed)."""
        async with self._lock:
            if self._latest is None:
                self._latest = await self._load_latest()
            await sync_tree(self.tree, self._queries)
            try:
                self._refuse_divergence()
            except LogDivergence as error:
                self.divergence = error
                raise
            self.divergence = None
            if min_size and self._latest is not None and self._latest.size >= min_size:
                return self._latest
            if self.tree.size == 0:
                return None
            if self._latest is not None and self._latest.size >= self.tree.size:
                return self._latest
            cp = sign_checkpoint(
                self._key,
                origin=self._origin,
                size=self.tree.size,
                root=self.tree.root(),
                timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            )
            note = sign_checkpoint_note(
                self._key, origin=self._origin, size=cp.size, root=bytes.fromhex(cp.root)
            )
            await self._objects.put_locked(checkpoint_key(cp.size), cp.model_dump_json().encode())
            await self._objects.put_locked(checkpoint_note_key(cp.size), note.encode())
            await self._writer.record_checkpoint(cp, note)
            self._latest = cp
            await self._cosign(note, cp.size)
            return cp

    async def _cosign(self, note: str, size: int) -> None:
        if self.witnessing is None or not self.witnessing.witnesses:
            return
        cosigned = await self.witnessing.cosign(note, self.tree, size)
        if cosigned is None:
            return
        count = cosigned.count("\n\u2014 ") - note.count("\n\u2014 ")
        await self._objects.put_locked(cosigned_note_key(size), cosigned.encode())
        await self._writer.record_cosigned_checkpoint(size, cosigned, count)

    async def _load_latest(self) -> Checkpoint | None:
        """The newest checkpoint in the database or the object-locked bucket, whichever is
        larger: deleting database checkpoints must not let the sink forget what it signed."""
        latest = await self._queries.latest_checkpoint()
        keys = sorted(await self._objects.keys(CHECKPOINT_PREFIX_KEY))
        if keys:
            data = await self._objects.get(keys[-1])
            if data is not None:
                anchored = Checkpoint.model_validate_json(data)
                if latest is None or anchored.size > latest.size:
                    latest = anchored
        return latest

    def _refuse_divergence(self) -> None:
        """Never sign a log that does not extend what was already signed."""
        latest = self._latest
        if latest is None:
            return
        if latest.size > self.tree.size:
            raise LogDivergence(
                f"log has {self.tree.size} events but checkpoint {latest.size} was signed"
            )
        if self.tree.root(latest.size).hex() != latest.root:
            raise LogDivergence(f"log no longer matches signed checkpoint {latest.size}")

"""A sealed chain's exports, written after its append is answered.

An append that stores a seal is answered once PostgreSQL has committed it. The signed
checkpoint covering the seal and the evidence bundle (`gantral.audit.bundle`) are written
afterwards in the sink process, so the instance's last audit activity does not wait on
signing and object storage.

Nothing is lost when the sink dies in between: the work is a function of PostgreSQL
state, a sealed chain with no recorded bundle. Each append that stores a seal wakes the
exporter with its chain (the prompt path), and a sweep of every such chain runs when the
sink starts and periodically (the durable path); an export that fails is retried by the
next sweep. A sweep reads only the seals stored since the last one and retries those
left (`gantral.audit.log_rounds`); the first after a start reads them all. Two sink
replicas never export one chain twice: an export holds a PostgreSQL advisory lock on the
chain (the other replica skips it) and checks for a recorded bundle under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gantral.audit.bundle import build_bundle, bundle_key, encode_bundle
from gantral.audit.checkpointer import Checkpointer
from gantral.audit.log_rounds import Backlog
from gantral.audit.objects import ObjectStore
from gantral.audit.queries import AuditQueries
from gantral.audit.store import AuditWriter
from gantral.postgres_transaction import transaction

__all__ = ["SealExports"]

log = logging.getLogger("gantral.audit.exports")

_TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext(%s))"


class SealExports:
    def __init__(
        self,
        writer: AuditWriter,
        queries: AuditQueries,
        objects: ObjectStore,
        checkpointer: Checkpointer,
    ) -> None:
        self.writer = writer
        self.queries = queries
        self.objects = objects
        self.checkpointer = checkpointer
        # Chains woken by their seal's append, in arrival order (a dict as an ordered set).
        self._woken: dict[str, None] = {}
        self._wake = asyncio.Event()
        # What the sweeps have read of the log, and the chains whose export failed.
        self._swept = Backlog()

    def wake(self, instance_id: str) -> None:
        """A seal of `instance_id` is committed: export it soon."""
        self._woken[instance_id] = None
        self._wake.set()

    @property
    def pending(self) -> list[str]:
        """The chains woken and not exported yet by this process (the sweep finds the rest)."""
        return list(self._woken)

    async def drain(self) -> list[str]:
        """Export every woken chain; returns those whose bundle is now recorded. One that
        fails is left to the sweep (logged), so a broken chain never holds up the others."""
        exported = []
        while self._woken:
            instance_id = next(iter(self._woken))
            del self._woken[instance_id]
            if await self._export_logged(instance_id):
                exported.append(instance_id)
        return exported

    async def sweep(self) -> list[str]:
        """Export every sealed chain with no recorded bundle, oldest seal first; returns
        those whose bundle is now recorded."""
        top = await self.queries.log_top()
        swept = self._swept
        swept.read(await self.queries.unexported_seals(swept.upto, top), top)
        exported = []
        for instance_id in swept.pending():
            self._woken.pop(instance_id, None)
            if await self._export_logged(instance_id):
                exported.append(instance_id)
                swept.done(instance_id)
        return exported

    async def run(self, stop: asyncio.Event, every: float) -> None:
        """Until `stop`: a sweep now and every `every` seconds, woken chains as they come."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while not stop.is_set():
            self._wake.clear()
            try:
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + every
                    await self.sweep()
                await self.drain()
            except Exception as error:  # the database is down: the next sweep retries
                log.warning("exporting sealed chains failed: %s", type(error).__name__)
            if self._woken:
                continue
            await _first(stop, self._wake, until=next_sweep)

    async def export(self, instance_id: str) -> str | None:
        """The chain's bundle key, exported now unless a bundle is recorded; None when the
        chain is not sealed or another replica is exporting it."""
        async with self.writer.db.connection() as conn, transaction(conn):
            name = f"{self.writer.db.config.schema_name}.export:{instance_id}"
            row = await (await conn.execute(_TRY_LOCK, (name,))).fetchone()
            if row is None or not row[0]:
                return None
            # Under the lock: a bundle recorded by another replica is committed and seen.
            keys = await self.queries.bundle_keys(instance_id)
            if keys:
                return keys[0]
            seal = (await self.queries.seals(instance_id)).get(instance_id)
            if seal is None:
                return None
            return await self._write(instance_id, seal.log_index)

    async def _export_logged(self, instance_id: str) -> bool:
        try:
            return await self.export(instance_id) is not None
        except Exception as error:  # logged like the sink's other background work
            log.warning("exporting the bundle of %s failed: %s", instance_id, type(error).__name__)
            return False

    async def _write(self, instance_id: str, seal_index: int) -> str:
        """Checkpoint past the seal, then write the evidence bundle and record it."""
        checkpoint = await self.checkpointer.publish(min_size=seal_index + 1)
        rows = await self.queries.instance_events(instance_id)
        seals = await self.queries.seals(instance_id)
        note = None
        if checkpoint is not None:
            note = await self.queries.cosigned_checkpoint_note(checkpoint.size)
            note = note or await self.queries.checkpoint_note(checkpoint.size)
        bundle = build_bundle(
            instance_id, rows, seals.get(instance_id), checkpoint, self.checkpointer.tree, note
        )
        data, digest = encode_bundle(bundle)
        key = bundle_key(instance_id, digest)
        await self.objects.put_locked(key, data)
        await self.writer.record_bundle(instance_id, key, digest)
        log.debug("exported the bundle of %s to %s", instance_id, key)
        return key


async def _first(stop: asyncio.Event, wake: asyncio.Event, *, until: float) -> None:
    """Wait until either event is set or the loop's clock reaches `until`."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(until):
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)

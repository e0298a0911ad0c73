"""The halts one process enforces: raised and lifted as audited acts, read through a
cache short enough that a halt holds on every replica within a second.

Every raise and lift is recorded in the access log (an ADMIN_ACTION in the Merkle log)
before it is stored, so none takes effect unrecorded; if it cannot be recorded the
caller gets `Unavailable` and nothing changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from gantral.domain.actors import Actor
from gantral.errors import Conflict, Forbidden, Reason, Unavailable
from gantral.governance.halt_store import HaltStore, InMemoryHaltStore, PostgresHaltStore
from gantral.governance.halts import Halt, HaltScope, HaltTarget, covering
from gantral.settings import Settings

__all__ = ["MAX_AGE_SECONDS", "HaltBook", "RecordAction", "open_halts"]

log = logging.getLogger("gantral.governance.halts")

# How stale a replica's view of the halts may be: well inside the 1 s a halt has to hold
# everywhere, at one small query per replica per half second.
MAX_AGE_SECONDS = 0.5

# `GantralCore.record_admin_action`: (actor, action, detail), raising unless stored.
RecordAction = Callable[[Actor, str, dict[str, Any]], Awaitable[None]]


class HaltBook:
    def __init__(
        self,
        store: HaltStore,
        *,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._max_age = max_age
        self._clock = clock
        self._active: list[Halt] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def active(self) -> list[Halt]:
        """The halts in effect, at most `max_age` seconds old. Fails closed: when they
        cannot be read, `Unavailable` (the call is refused), never "no halts"."""
        if self._fresh():
            return self._active
        async with self._lock:
            if not self._fresh():  # another caller may have read them meanwhile
                try:
                    self._active = await self.store.read(active_only=True)
                except Unavailable:
                    raise
                except Exception as exc:
                    log.warning("halts could not be read: %s", exc)
                    raise Unavailable(
                        "the halts in effect could not be read; retry later",
                        reason=Reason.HALTS_UNAVAILABLE,
                    ) from exc
                self._read_at = self._clock()
        return self._active

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at <= self._max_age

    async def covering(self, target: HaltTarget) -> Halt | None:
        return covering(await self.active(), target)

    async def raise_halt(
        self,
        actor: Actor,
        scope: HaltScope,
        reason: str,
        record: RecordAction,
        *,
        lift_by_another: bool = False,
    ) -> Halt:
        """Record, then store, a new halt; in effect at once in this process."""
        halt_id = f"halt_{uuid.uuid4().hex}"
        detail: dict[str, Any] = {
            "halt_id": halt_id,
            "scope": scope.model_dump(mode="json", exclude_none=True),
            "reason": reason,
        }
        if lift_by_another:
            detail["lift_by_another"] = True
        await record(actor, "halt_raised", detail)
        halt = await self.store.add(halt_id, scope, reason, actor.id, lift_by_another)
        self._read_at = None
        return halt

    async def lift(self, actor: Actor, halt: Halt, reason: str, record: RecordAction) -> Halt:
        """Record, then store, the lift of `halt` (already read, so its scope was checked)."""
        detail = {
            "halt_id": halt.halt_id,
            "scope": halt.scope.model_dump(mode="json", exclude_none=True),
            "raised_by": halt.raised_by,
            "reason": reason,
        }
        if not halt.active:
            raise Conflict(f"halt {halt.halt_id} is already lifted", reason=Reason.ALREADY_LIFTED)
        if halt.lift_by_another and actor.id == halt.raised_by:
            raise Forbidden(
                f"halt {halt.halt_id} must be lifted by someone other than its raiser",
                reason=Reason.LIFTER_IS_RAISER,
            )
        await record(actor, "halt_lifted", detail)
        lifted = await self.store.lift(halt.halt_id, actor.id, reason)
        self._read_at = None
        return lifted


@contextlib.asynccontextmanager
async def open_halts(settings: Settings) -> AsyncIterator[HaltBook]:
    """PostgreSQL (the registry's database) when configured; memory otherwise."""
    dsn = settings.database.registry_url.get_secret_value()
    if not dsn:
        log.warning("no GANTRAL_DATABASE__REGISTRY_URL: halts are kept in memory only")
        yield HaltBook(InMemoryHaltStore())
        return
    # Small: one query per half second, and the rare raise or lift.
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        dsn, open=False, min_size=1, max_size=2, check=AsyncConnectionPool.check_connection
    )
    await pool.open(wait=True, timeout=30)
    try:
        store = PostgresHaltStore(pool)
        await store.migrate()
        yield HaltBook(store)
    finally:
        await pool.close()

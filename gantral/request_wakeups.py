"""Waking the long polls on a request when it is decided, here and on every API replica.

A decision is relayed by one API replica; the agent's long poll (`GET .../requests/{id}
?wait=N`) may be held by another. The relaying process asks the instance for the request
once the decision is stored (the `settled` Update, answered in the workflow task that
makes the grant usable), hands that answer to its own waiters and tells the others through
PostgreSQL's LISTEN/NOTIFY (the registry's database, which the replicas already share for
halts). Waiters still poll the workflow, the authority: a lost notification, an expiry by
timer or a replica without a database costs latency, never an answer. While the channel
listens they poll less often, which is the load it saves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import psycopg
from psycopg import sql

from gantral.domain.records import HumanRequest

__all__ = ["CHANNEL", "RequestWakeups", "Waiter"]

log = logging.getLogger("gantral.api")

CHANNEL = "gantral_request_decided"
# Reconnecting the listener: quick at first, at most every 10 s while PostgreSQL is away.
_FIRST_RETRY_SECONDS = 0.5
_LAST_RETRY_SECONDS = 10.0
# A NOTIFY that takes longer is given up: the other replicas' polls still find the outcome.
_NOTIFY_TIMEOUT_SECONDS = 2.0


class Waiter:
    """One long poll's wake-up: `event` is set on every wake; `request` is the request as
    the relaying process last received it settled (None when only told of a decision)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.request: HumanRequest | None = None


class RequestWakeups:
    """Long-poll waiters per (instance, request) of this process, and the channel to the
    other replicas (`listen`, run as a task for the process's lifetime)."""

    def __init__(self, dsn: str = "") -> None:
        self._dsn = dsn
        self._waiting: dict[tuple[str, str], set[Waiter]] = {}
        self._listening = asyncio.Event()
        self._sender: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._sending = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        """True while decisions relayed by other replicas reach this one."""
        return self._listening.is_set()

    @contextlib.contextmanager
    def waiter(self, instance_id: str, request_id: str) -> Iterator[Waiter]:
        """Woken whenever a decision on the request is relayed, here or elsewhere."""
        waiter = Waiter()
        key = (instance_id, request_id)
        waiting = self._waiting.setdefault(key, set())
        waiting.add(waiter)
        try:
            yield waiter
        finally:
            waiting.discard(waiter)
            if not waiting:
                self._waiting.pop(key, None)

    def decided(
        self, instance_id: str, request_id: str, request: HumanRequest | None = None
    ) -> None:
        """This process relayed a decision on the request (and, with `request`, received
        the request once the decision was stored): wake its waiters here at once, and
        tell the other replicas without holding anyone up."""
        self._wake(instance_id, request_id, request)
        if self._dsn:
            task = asyncio.create_task(self._notify(f"{instance_id} {request_id}"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _wake(self, instance_id: str, request_id: str, request: HumanRequest | None) -> None:
        for waiter in self._waiting.get((instance_id, request_id), ()):
            if request is not None:
                waiter.request = request
            waiter.event.set()

    async def _notify(self, payload: str) -> None:
        try:
            async with self._sending, asyncio.timeout(_NOTIFY_TIMEOUT_SECONDS):
                if self._sender is None or self._sender.closed:
                    self._sender = await psycopg.AsyncConnection.connect(
                        self._dsn, autocommit=True, connect_timeout=2
                    )
                await self._sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
        except (psycopg.Error, TimeoutError) as error:
            log.warning("could not tell other replicas of a decision: %s", type(error).__name__)
            await self._drop_sender()

    async def _drop_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(psycopg.Error):
                await sender.close()

    async def listen(self) -> None:
        """Receive the other replicas' decisions until cancelled; reconnects after a loss."""
        if not self._dsn:
            return
        retry = _FIRST_RETRY_SECONDS
        try:
            while True:
                try:
                    async with await psycopg.AsyncConnection.connect(
                        self._dsn, autocommit=True, connect_timeout=5
                    ) as conn:
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                        self._listening.set()
                        retry = _FIRST_RETRY_SECONDS
                        async for note in conn.notifies():
                            instance_id, _, request_id = note.payload.partition(" ")
                            self._wake(instance_id, request_id, None)
                except psycopg.Error as error:
                    log.warning(
                        "decision notifications lost (%s); polling until they are back",
                        type(error).__name__,
                    )
                self._listening.clear()
                await asyncio.sleep(retry)
                retry = min(retry * 2, _LAST_RETRY_SECONDS)
        finally:
            self._listening.clear()
            await self._drop_sender()

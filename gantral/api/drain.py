"""Graceful shutdown of one API process, in two phases (driven by `gantral.api.serve`):

1. draining: `/readyz` answers 503 while every request is still served, so the load balancer
   stops sending traffic before the listener closes;
2. stopping: the listener is closed and in-flight requests get the graceful-shutdown
   timeout to finish. A long-poll (`GET ...?wait=N`) still waiting is cut short: it is
   answered as if its wait had ended now (its current state, never a 5xx). Waiting is only
   reading, so abandoning the wait and reading again at once changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Drain", "DrainMiddleware", "install"]


class Drain:
    """The process's shutdown phase, shared by the server and the app."""

    def __init__(self) -> None:
        self.draining = False
        self.stopping = asyncio.Event()

    def begin_draining(self) -> None:
        self.draining = True

    def begin_stopping(self) -> None:
        self.draining = True
        self.stopping.set()


class DrainMiddleware:
    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_long_poll(scope) or self.drain.stopping.is_set():
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        call = asyncio.ensure_future(self.app(scope, receive, tracked))
        stopping = asyncio.ensure_future(self.drain.stopping.wait())
        try:
            await asyncio.wait({call, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if call.done() or started:
            await call
            return
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await call
        # Read again without waiting: the caller gets the state as it is now.
        await self.app(_without_wait(scope), _replayed_body(receive), send)


def _is_long_poll(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    query = scope.get("query_string", b"").decode("latin-1")
    return any(key == "wait" and value not in ("", "0") for key, value in parse_qsl(query))


def _without_wait(scope: Scope) -> dict[str, Any]:
    query = scope.get("query_string", b"").decode("latin-1")
    kept = [(key, value) for key, value in parse_qsl(query, keep_blank_values=True)]
    rewritten = [(key, "0" if key == "wait" else value) for key, value in kept]
    return {**scope, "query_string": urlencode(rewritten).encode("latin-1")}


def _replayed_body(receive: Receive) -> Receive:
    """A GET's (empty) body again, then the connection's own messages (a disconnect)."""
    replayed = False

    async def _receive() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return _receive


def install(app: FastAPI) -> Drain:
    """Outermost middleware (add it last); the app's readiness route reads `app.state.drain`."""
    drain = Drain()
    app.state.drain = drain
    app.add_middleware(DrainMiddleware, drain=drain)
    return drain

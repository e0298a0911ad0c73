"""How a Gantral process (worker, sink) stops: SIGTERM or SIGINT starts a graceful drain,
and the process ends with an explicit exit status once its own shutdown is complete.

Why `os._exit`: the Temporal SDK's Rust core keeps native threads that may call back into
Python while the interpreter finalizes, which crashed the worker on ordinary stops
("Fatal Python error: PyGILState_Release"). Everything that matters (the Temporal worker's
drain, database pools, the last checkpoint, log handlers) is closed in order before the
exit, so skipping finalization loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

__all__ = ["exit_process", "run_until_signalled", "stop_on_signals"]

log = logging.getLogger("gantral.shutdown")


def stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGTERM/SIGINT; a second one exits at once (status 1),
    for an operator who will not wait for the drain."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def _signalled(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s again: stopping without waiting for the drain", sig.name)
            exit_process(1)
        log.info("%s received: draining, then stopping", sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _signalled, sig)
    return stop


def run_until_signalled(
    name: str, serve: Callable[[asyncio.Event], Coroutine[Any, Any, None]]
) -> NoReturn:
    """Run `serve(stop)` until it returns after a signal, then exit 0; a failure is logged
    (through the masking filter, never printed by the interpreter) and exits 1."""

    async def _main() -> None:
        await serve(stop_on_signals())

    try:
        asyncio.run(_main())
    except Exception:
        log.exception("%s stopped", name)
        exit_process(1)
    log.info("%s stopped cleanly", name)
    exit_process(0)


def exit_process(code: int) -> NoReturn:
    """Flush every log handler and the standard streams, then end the process now."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed or broken pipe cannot hold the exit up.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)

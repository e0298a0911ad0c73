"""`gantral api`: the API under uvicorn, stopping the way a rolling deploy needs.

On SIGTERM (or Ctrl-C): readiness fails first (`GANTRAL_API__SHUTDOWN_DELAY_SECONDS`, while
requests are still served), then the listener closes and in-flight requests get
`GANTRAL_API__GRACEFUL_SHUTDOWN_SECONDS` to finish (long-polls answer their current state),
then the app's lifespan closes its clients and the process exits 0. A second signal skips
the delay; a third stops without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from types import FrameType

import uvicorn

from gantral.api.app import create_app
from gantral.api.drain import Drain
from gantral.shutdown import exit_process
from gantral.startup import configure_logging, load_settings

__all__ = ["DrainingServer", "main"]

log = logging.getLogger("gantral.api")
# uvicorn's exit status when the app could not start.
_STARTUP_FAILURE = 3


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Drain, delay_seconds: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.delay_seconds = delay_seconds
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded for re-raising after shutdown (uvicorn's default): a drained stop
        # is a clean exit, status 0, not death by signal.
        if self.should_exit:
            self.force_exit = True
        elif self.drain.draining or self.delay_seconds <= 0 or self._loop is None:
            self._stop()
        else:
            self.drain.begin_draining()
            log.info("shutdown requested: not ready, stopping in %.1fs", self.delay_seconds)
            # Signal handlers run between bytecodes of the loop's thread: hand over safely.
            loop = self._loop
            loop.call_soon_threadsafe(loop.call_later, self.delay_seconds, self._stop)

    def _stop(self) -> None:
        if self.should_exit:
            return
        log.info("stopping: in-flight requests have %.1fs", self.config.timeout_graceful_shutdown)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.drain.begin_stopping)
        self.should_exit = True


def main() -> None:
    configure_logging()
    settings = load_settings()
    app = create_app()
    config = uvicorn.Config(
        app,
        # uvicorn's own loggers (access log included) go through Gantral's handler.
        log_config=None,
        host=settings.api.host,
        port=settings.api.port,
        timeout_graceful_shutdown=math.ceil(settings.api.graceful_shutdown_seconds),
        server_header=False,
    )
    server = DrainingServer(config, app.state.drain, settings.api.shutdown_delay_seconds)
    server.run()
    exit_process(0 if server.started else _STARTUP_FAILURE)


if __name__ == "__main__":
    main()

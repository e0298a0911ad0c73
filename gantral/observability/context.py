"""What a log line is about, carried through `contextvars`: set once per request (API) and
read by the log formatter, so no call site passes ids around."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["actor", "instance_id", "request_id"]

request_id: ContextVar[str | None] = ContextVar("gantral_request_id", default=None)
instance_id: ContextVar[str | None] = ContextVar("gantral_instance_id", default=None)
actor: ContextVar[str | None] = ContextVar("gantral_actor", default=None)

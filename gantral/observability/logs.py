"""One log format per process, chosen by `GANTRAL_LOG__FORMAT`:

- `json`: one JSON object per line (python-json-logger) with `time`, `level`, `logger`,
  `message` and, where known, `instance_id`, `request_id`, `trace_id`, `span_id`, `actor`,
  `exc_info`; uvicorn's access log included (with `http_method`, `http_path`,
  `http_status`);
- `text`: the human-readable form;
- `auto` (default): text on a terminal, JSON otherwise (files, pipes, containers). So
  `gantral dev` shows text where a person reads it and writes JSON to `.data/logs/`.

Secrets stay masked: the masking filter runs on the handler before formatting, and the
formatter prints the masked traceback it leaves, never the raw exception.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from gantral.observability import context

__all__ = ["GantralJsonFormatter", "LogFormat", "chosen_format", "handler_for"]

LogFormat = Literal["auto", "json", "text"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Loggers that come with handlers of their own (uvicorn's); they are routed to the root.
ROUTED_LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error")


class GantralJsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        # The masking filter has put the masked traceback in exc_text: print that, never a
        # fresh rendering of the raw exception (its message may hold a secret).
        exc_info = record.exc_info
        if record.exc_text:
            record.exc_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info = exc_info

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        for key, value in _about(record).items():
            if value is not None:
                log_data[key] = value
        if record.name == "uvicorn.access":
            log_data.update(_access_fields(record))
        log_data.update(message_dict)


def _about(record: logging.LogRecord) -> dict[str, Any]:
    """The ids a line is about: request context, Temporal's workflow/activity info, span."""
    temporal = getattr(record, "temporal_workflow", None) or getattr(
        record, "temporal_activity", None
    )
    instance = context.instance_id.get()
    if instance is None and isinstance(temporal, dict):
        instance = temporal.get("workflow_id")
    found: dict[str, Any] = {
        "instance_id": instance,
        "request_id": context.request_id.get(),
        "actor": context.actor.get(),
    }
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        found["trace_id"] = format(span.trace_id, "032x")
        found["span_id"] = format(span.span_id, "016x")
    return found


def _access_fields(record: logging.LogRecord) -> dict[str, Any]:
    # uvicorn: '%s - "%s %s HTTP/%s" %d' % (client, method, path, version, status)
    args = record.args
    if isinstance(args, tuple) and len(args) == 5:
        return {"http_method": args[1], "http_path": args[2], "http_status": args[4]}
    return {}


def chosen_format(value: str | None = None) -> Literal["json", "text"]:
    """The format in force: `value`, else GANTRAL_LOG__FORMAT, else auto."""
    chosen = (value or os.environ.get("GANTRAL_LOG__FORMAT") or "auto").lower()
    if chosen not in ("auto", "json", "text"):
        raise SystemExit(f"refusing to start, invalid settings: log.format: {chosen!r}")
    if chosen == "auto":
        return "text" if sys.stderr.isatty() else "json"
    return "json" if chosen == "json" else "text"


def handler_for(fmt: Literal["json", "text"]) -> logging.Handler:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(GantralJsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler

"""JSON log lines: one object per line, the ids a line is about, secrets masked even in a
traceback, uvicorn's access line with its fields; text on a terminal, JSON elsewhere."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from gantral.identity.secrets import SecretMaskingFilter
from gantral.observability import context
from gantral.observability.logs import GantralJsonFormatter, chosen_format

SECRET = "Pw-Secret-In-Exception-77"


def _logger() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(GantralJsonFormatter())
    handler.addFilter(SecretMaskingFilter([SECRET]))
    logger = logging.getLogger(f"test.json.{id(out)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_every_line_is_json_with_the_common_fields_and_the_context() -> None:
    logger, out = _logger()
    tokens = (context.request_id.set("req-1"), context.actor.set("alice"))
    try:
        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("op") as span:
            logger.info("deciding %s", "now")
            ids = span.get_span_context()
    finally:
        context.request_id.reset(tokens[0])
        context.actor.reset(tokens[1])
    (line,) = _lines(out)
    assert line["message"] == "deciding now" and line["level"] == "INFO"
    assert line["logger"] == logger.name and str(line["time"]).endswith("+00:00")
    assert line["request_id"] == "req-1" and line["actor"] == "alice"
    assert line["trace_id"] == format(ids.trace_id, "032x")
    assert line["span_id"] == format(ids.span_id, "016x")


def test_a_workflow_or_activity_line_names_its_instance() -> None:
    logger, out = _logger()
    logger.info("appending", extra={"temporal_activity": {"workflow_id": "inst_abc"}})
    assert _lines(out)[0]["instance_id"] == "inst_abc"


def test_secrets_are_masked_in_the_message_and_the_traceback() -> None:
    logger, out = _logger()
    try:
        raise RuntimeError(f"could not connect with {SECRET}")
    except RuntimeError:
        logger.exception("failed with %s", SECRET)
    text = out.getvalue()
    assert SECRET not in text
    (line,) = _lines(out)
    assert "RuntimeError" in str(line["exc_info"]) and "***" in str(line["exc_info"])


def test_the_access_line_carries_method_path_and_status() -> None:
    logger, out = _logger()
    access = logging.getLogger("uvicorn.access")
    saved = access.handlers, access.propagate, access.level
    access.handlers, access.propagate = logger.handlers, False
    access.setLevel(logging.INFO)
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/healthz", "1.1", 200)
    finally:
        access.handlers, access.propagate = saved[0], saved[1]
        access.setLevel(saved[2])
    (line,) = _lines(out)
    assert (line["http_method"], line["http_path"], line["http_status"]) == ("GET", "/healthz", 200)


def test_auto_is_json_unless_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GANTRAL_LOG__FORMAT", raising=False)
    assert chosen_format() == "json"  # pytest captures stderr: not a terminal
    monkeypatch.setenv("GANTRAL_LOG__FORMAT", "text")
    assert chosen_format() == "text"
    with pytest.raises(SystemExit, match=r"log\.format"):
        chosen_format("yaml")

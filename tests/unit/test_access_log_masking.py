"""uvicorn's access log through the masking filter (issue 10, item 16): every request was
logged as a `--- Logging error ---` traceback, because the filter replaced `record.args`
(which uvicorn's access formatter unpacks) with None."""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from gantral.devstack.process import free_port
from gantral.identity.secrets import SecretMaskingFilter
from gantral.startup import install_masking, masking

SECRET = "access-log-secret-7f3a"
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error")


@pytest.fixture
def uvicorn_logging() -> Iterator[None]:
    saved = {name: logging.getLogger(name).handlers[:] for name in _UVICORN_LOGGERS}
    yield
    for name, handlers in saved.items():
        logger = logging.getLogger(name)
        for handler in logger.handlers[:]:
            if handler not in handlers:
                logger.removeHandler(handler)
                handler.close()


def test_real_uvicorn_access_log_is_formatted_and_masked(
    tmp_path: Path, uvicorn_logging: None, capfd: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "api.log"
    config_dict = copy.deepcopy(LOGGING_CONFIG)
    for handler in config_dict["handlers"].values():
        handler.pop("stream", None)
        handler.update({"class": "logging.FileHandler", "filename": str(log_file)})
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=config_dict)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        # What the API lifespan does once uvicorn has configured its loggers.
        masking().add(SECRET)
        install_masking()
        response = httpx.get(f"http://127.0.0.1:{port}/ping?token={SECRET}")
        assert response.status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    logged = log_file.read_text()
    captured = capfd.readouterr()
    assert "Logging error" not in captured.err + logged
    assert "TypeError" not in captured.err + logged
    assert '"GET /ping?token=*** HTTP/1.1" 200' in logged
    assert SECRET not in logged


def test_arguments_stay_a_tuple_and_are_masked_one_by_one() -> None:
    masking_filter = SecretMaskingFilter([SECRET])
    record = logging.makeLogRecord(
        {"msg": '%s - "%s %s HTTP/%s" %d', "args": ("1.2.3.4:5", "GET", f"/x?{SECRET}", "1.1", 200)}
    )
    assert masking_filter.filter(record)
    assert record.args == ("1.2.3.4:5", "GET", "/x?***", "1.1", 200)
    assert record.getMessage() == '1.2.3.4:5 - "GET /x?*** HTTP/1.1" 200'


def test_objects_whose_text_holds_a_secret_are_masked() -> None:
    masking_filter = SecretMaskingFilter([SECRET])
    record = logging.makeLogRecord({"msg": "failed: %s", "args": (RuntimeError(SECRET),)})
    masking_filter.filter(record)
    assert record.getMessage() == "failed: ***"
    # A masked argument that no longer fits `%d` is logged as text, never raised.
    record = logging.makeLogRecord({"msg": "n=%d", "args": (RuntimeError(SECRET),)})
    masking_filter.filter(record)
    assert SECRET not in record.getMessage()

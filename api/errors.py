"""The one error-to-status table, and the handlers that apply it."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gantral.errors import (
    Conflict,
    Forbidden,
    GantralError,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unavailable,
)

STATUS: dict[type[GantralError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    Unavailable: 503,
}


def _challenge(exc: GantralError) -> str:
    """RFC 6750: a bare challenge when no token came, `invalid_token` with the reason else."""
    if exc.reason == "missing_token":
        return 'Bearer realm="gantral"'
    return f'Bearer realm="gantral", error="invalid_token", error_description="{exc.reason}"'


async def _gantral_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GantralError)
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
    headers = {"WWW-Authenticate": _challenge(exc)} if status == 401 else None
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None and status in (401, 403):
        metrics.refusals.labels(str(status), exc.reason).inc()
    return JSONResponse(exc.to_dict(), status_code=status, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    body = InvalidInput(
        f"{first['field']}: {first['message']}", reason="validation_failed", errors=errors
    ).to_dict()
    return JSONResponse(body, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(GantralError, _gantral_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

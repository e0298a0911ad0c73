"""The one error-to-status table, and the handlers that apply it.

Every error body has the same shape, `{"error", "reason", "message", "details"?}`, whether
it comes from the core (`gantral.errors`), the edge (`gantral.api.edge`), request validation, or
the framework itself (unknown path, wrong method).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gantral.errors import (
    Conflict,
    Forbidden,
    GantralError,
    InvalidInput,
    NotFound,
    Reason,
    Unauthenticated,
    Unavailable,
)

__all__ = ["STATUS", "BodyTooLarge", "allowed_methods", "error_response", "install"]


class BodyTooLarge(InvalidInput):
    """A request body over the edge's limit, refused before it was read in full."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, reason=Reason.BODY_TOO_LARGE, **details)


# Most specific first: the first class an error is an instance of decides.
STATUS: dict[type[GantralError], int] = {
    BodyTooLarge: 413,
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    Unavailable: 503,
}

# Framework errors (no route, wrong method...) in the same shape: error code by status.
_HTTP_CODES = {
    400: InvalidInput.code,
    401: Unauthenticated.code,
    403: Forbidden.code,
    404: NotFound.code,
    405: "method_not_allowed",
    409: Conflict.code,
    413: InvalidInput.code,
    503: Unavailable.code,
}


def _challenge(exc: GantralError) -> str:
    """RFC 6750: a bare challenge when no token came, `invalid_token` with the reason else."""
    if exc.reason is Reason.MISSING_TOKEN:
        return 'Bearer realm="gantral"'
    return f'Bearer realm="gantral", error="invalid_token", error_description="{exc.reason}"'


def error_response(app: Any, exc: GantralError) -> JSONResponse:
    """The response for `exc`; refusals (401, 403) are counted in the app's metrics."""
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
    headers = {"WWW-Authenticate": _challenge(exc)} if status == 401 else None
    metrics = getattr(getattr(app, "state", None), "metrics", None)
    if metrics is not None and status in (401, 403):
        metrics.refusals.labels(str(status), exc.reason).inc()
    return JSONResponse(exc.to_dict(), status_code=status, headers=headers)


async def _gantral_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GantralError)
    return error_response(request.app, exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    body = InvalidInput(
        f"{first['field']}: {first['message']}", reason=Reason.VALIDATION_FAILED, errors=errors
    ).to_dict()
    return JSONResponse(body, status_code=422)


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route serves at `path`. FastAPI makes one route per method, and
    Starlette's 405 names only the first route whose path matched; RFC 9110 wants them all,
    and the published contract lists them all (OPTIONS is never served: it is 405 too)."""
    methods: set[str] = set()
    for context in routing.iter_route_contexts(app.routes):
        regex = getattr(context, "path_regex", None)
        if regex is not None and regex.match(path) and context.methods:
            methods |= {m.upper() for m in context.methods}
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    reason = {404: Reason.NO_ROUTE, 405: Reason.METHOD_NOT_ALLOWED}.get(exc.status_code, code)
    headers = dict(exc.headers or {})
    message = str(exc.detail)
    if exc.status_code == 405:
        allowed = allowed_methods(request.app, request.scope["path"])
        headers["Allow"] = ", ".join(allowed)
        message = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
    body = {"error": code, "reason": reason, "message": message}
    return JSONResponse(body, status_code=exc.status_code, headers=headers or None)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # The traceback is logged by the server; the client learns nothing about internals.
    body = {"error": "internal", "reason": Reason.INTERNAL, "message": "internal server error"}
    return JSONResponse(body, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(GantralError, _gantral_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

"""The one error tree. Translated only at the edges: HTTP status in `gantral/api/errors.py`,
`ApplicationError(type=...)` across Temporal.

    GantralError
    ├── InvalidInput        bad input: a field, a file, a YAML line      (422)
    ├── NotFound            unknown instance, request, workflow, policy  (404)
    ├── Conflict            wrong state, already decided, stale, reused  (409)
    ├── Unauthenticated     no or invalid credentials                    (401)
    ├── Forbidden           authenticated but not allowed                (403)
    └── Unavailable         a dependency is down; retry later            (503)
"""

from __future__ import annotations

from typing import Any


class GantralError(Exception):
    code: str = "error"

    def __init__(self, message: str, *, reason: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "reason": self.reason, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(GantralError):
    code = "invalid_input"


class NotFound(GantralError):
    code = "not_found"


class Conflict(GantralError):
    code = "conflict"


class Unauthenticated(GantralError):
    code = "unauthenticated"


class Forbidden(GantralError):
    code = "forbidden"


class Unavailable(GantralError):
    code = "unavailable"


BY_CODE: dict[str, type[GantralError]] = {
    cls.code: cls
    for cls in (InvalidInput, NotFound, Conflict, Unauthenticated, Forbidden, Unavailable)
}

"""The SDK's one error tree (drawn in `gantral_sdk`'s docstring).

API errors are built from the server's JSON body `{"error", "reason", "message",
"details"}`: the `error` code picks the class, the HTTP status is only the fallback
for bodies that are not Gantral's (a proxy's 502 page, say).
"""

from __future__ import annotations

from typing import Any

import httpx

from gantral_sdk._types_gen import Decision, HaltScope, HumanRequest


class GantralSDKError(Exception):
    """Base of every error the SDK raises. `reason` is a stable, machine-readable cause."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class TransportError(GantralSDKError):
    """The API could not be reached, or did not answer in time."""

    reason = "transport"


class APIError(GantralSDKError):
    """The API answered with an error.

    Attributes:
        status_code: The HTTP status.
        code: The server's error code (`conflict`, `not_found`, ...).
        reason: The server's precise reason (`grant_reused`, `already_decided`, ...).
        details: Extra fields the server sent, e.g. validation `errors`.
    """

    code: str = "error"

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        reason: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, reason=reason or code or type(self).code)
        self.status_code = status_code
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        return f"{self.status_code} {self.code}/{self.reason}: {self.message}"


class InvalidInput(APIError):
    """422: the request was malformed."""

    code = "invalid_input"


class NotFound(APIError):
    """404: unknown instance, request, workflow or step."""

    code = "not_found"


class Conflict(APIError):
    """409: not allowed in the current state (already decided, stale, grant reused, ...)."""

    code = "conflict"


class Halted(Conflict):
    """409 `halted`: a halt (the fleet's kill switch) holds over this call's team, agent or
    workflow. Not a capacity problem: do not retry until an operator lifts it.

    Attributes:
        halt_id: The halt that refused the call.
        halt_reason: Why it was raised.
        scope: What it covers.
    """

    @property
    def halt_id(self) -> str | None:
        value = self.details.get("halt_id")
        return value if isinstance(value, str) else None

    @property
    def halt_reason(self) -> str | None:
        value = self.details.get("halt_reason")
        return value if isinstance(value, str) else None

    @property
    def scope(self) -> HaltScope | None:
        """What the halt covers (one of team, agent, workflow and version, deployment)."""
        value = self.details.get("scope")
        try:
            return HaltScope.model_validate(value) if isinstance(value, dict) else None
        except ValueError:  # not as documented: the message still says it
            return None


class Unauthenticated(APIError):
    """401: no or invalid credentials."""

    code = "unauthenticated"


class Forbidden(APIError):
    """403: authenticated, but not allowed."""

    code = "forbidden"


class Unavailable(APIError):
    """503 (or any other 5xx): a dependency is down; retry later."""

    code = "unavailable"


class StepRefused(GantralSDKError):
    """A governed step must not run. `request` is the human request, when there is one;
    `decision`, the human decision that refused it (who, in which role, why), when known."""

    reason = "refused"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        request: HumanRequest | None = None,
        decision: Decision | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.request = request
        self.decision = decision


class StepRejected(StepRefused):
    """A human rejected the step (or the policy's timeout outcome is REJECT)."""

    reason = "rejected"


class StepExpired(StepRefused):
    """Nobody decided before the policy's last deadline."""

    reason = "expired"


class StepCancelled(StepRefused):
    """The request was cancelled with its instance, or superseded by a newer one."""

    reason = "cancelled"


class DecisionTimeout(StepRefused):
    """The SDK's own wait for a decision ended; the request may still be decided later."""

    reason = "decision_timeout"


class DigestMismatch(StepRefused):
    """The grant does not bind to the arguments the agent would run: refused locally."""

    reason = "args_digest_mismatch"


_BY_CODE: dict[str, type[APIError]] = {
    cls.code: cls
    for cls in (InvalidInput, NotFound, Conflict, Unauthenticated, Forbidden, Unavailable)
}
_BY_STATUS: dict[int, type[APIError]] = {
    httpx.codes.UNPROCESSABLE_ENTITY: InvalidInput,
    httpx.codes.BAD_REQUEST: InvalidInput,
    httpx.codes.NOT_FOUND: NotFound,
    httpx.codes.CONFLICT: Conflict,
    httpx.codes.UNAUTHORIZED: Unauthenticated,
    httpx.codes.FORBIDDEN: Forbidden,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The typed error for a non-2xx response, keeping the server's code and reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return error_from_body(response.status_code, body, response.reason_phrase or "request failed")


def error_from_body(status_code: int, body: Any, fallback: str = "request failed") -> APIError:
    """The typed error for an error body answered with `status_code` (a whole response's,
    or one refused item's of a batch decision)."""
    if not isinstance(body, dict):
        body = {}
    code = body.get("error") if isinstance(body.get("error"), str) else None
    reason = body.get("reason") if isinstance(body.get("reason"), str) else None
    message = body.get("message")
    if not isinstance(message, str):
        message = fallback
    details = body.get("details") if isinstance(body.get("details"), dict) else None
    cls = Halted if reason == "halted" else _BY_CODE.get(code or "")
    if cls is None:
        cls = Unavailable if status_code >= 500 else _BY_STATUS.get(status_code, APIError)
    return cls(message, status_code=status_code, reason=reason, code=code, details=details)


class WebhookVerificationError(GantralSDKError):
    """A callback delivery is not genuine, or stale: do not act on it."""

    reason = "webhook_invalid"

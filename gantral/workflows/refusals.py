"""Refusals raised inside the workflow, built from the one error tree (`gantral.errors`).

An `ApplicationError` raised by an update validator rejects the update before anything
is written to history; raised by a handler, it fails only that update, not the instance.
Its `type` is the error class's code, so the client maps it back to the same class.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from gantral.errors import BY_CODE, Conflict, Forbidden, GantralError, InvalidInput, NotFound


def refuse(error: type[GantralError] | str, reason: str, message: str) -> ApplicationError:
    """`error`: a `gantral.errors` class (or its code, as stored with a recorded outcome)."""
    cls = BY_CODE.get(error, Conflict) if isinstance(error, str) else error
    return ApplicationError(message, {"reason": reason}, type=cls.code, non_retryable=True)


def conflict(reason: str, message: str) -> ApplicationError:
    return refuse(Conflict, reason, message)


def forbidden(reason: str, message: str) -> ApplicationError:
    return refuse(Forbidden, reason, message)


def not_found(reason: str, message: str) -> ApplicationError:
    return refuse(NotFound, reason, message)


def invalid(reason: str, message: str) -> ApplicationError:
    return refuse(InvalidInput, reason, message)

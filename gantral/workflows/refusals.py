"""Refusals raised by the governance logic, built from the one error tree (`gantral.errors`).

Plain Gantral exceptions: the state and its checks know nothing of Temporal. The workflow
hosts turn them into Temporal's `ApplicationError` at their edge (`temporal_refusals`).
"""

from __future__ import annotations

from gantral.errors import (
    BY_CODE,
    Conflict,
    Forbidden,
    GantralError,
    InvalidInput,
    NotFound,
    Reason,
)


def refuse(error: type[GantralError] | str, reason: Reason, message: str) -> GantralError:
    """`error`: a `gantral.errors` class (or its code, as stored with a recorded outcome)."""
    cls = BY_CODE.get(error, Conflict) if isinstance(error, str) else error
    return cls(message, reason=reason)


def conflict(reason: Reason, message: str) -> GantralError:
    return refuse(Conflict, reason, message)


def forbidden(reason: Reason, message: str) -> GantralError:
    return refuse(Forbidden, reason, message)


def not_found(reason: Reason, message: str) -> GantralError:
    return refuse(NotFound, reason, message)


def invalid(reason: Reason, message: str) -> GantralError:
    return refuse(InvalidInput, reason, message)

"""Refusals raised inside the workflow, typed so the client maps them back to `gantral.errors`.

An `ApplicationError` raised by an update validator rejects the update before anything
is written to history; raised by a handler, it fails only that update, not the instance.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError


def refuse(code: str, reason: str, message: str) -> ApplicationError:
    """`code` is a `gantral.errors` code (conflict, not_found, forbidden, invalid_input)."""
    return ApplicationError(message, {"reason": reason}, type=code, non_retryable=True)


def conflict(reason: str, message: str) -> ApplicationError:
    return refuse("conflict", reason, message)


def forbidden(reason: str, message: str) -> ApplicationError:
    return refuse("forbidden", reason, message)


def not_found(reason: str, message: str) -> ApplicationError:
    return refuse("not_found", reason, message)


def invalid(reason: str, message: str) -> ApplicationError:
    return refuse("invalid_input", reason, message)

"""A Gantral refusal as Temporal carries it: the one conversion, used by the workflow hosts.

An `ApplicationError` raised by an update validator rejects the update before anything
is written to history; raised by a handler, it fails only that update, not the instance;
raised by the run, it fails the run. Its `type` is the error class's code and its details
hold the reason, so the client maps it back to the same class (`GantralCore`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.exceptions import ApplicationError

from gantral.errors import GantralError

__all__ = ["as_temporal", "to_application_error"]


def to_application_error(error: GantralError, *, retryable: bool = False) -> ApplicationError:
    """`retryable`: for an activity whose failure may pass (the audit sink's `Unavailable`)."""
    return ApplicationError(
        error.message, {"reason": error.reason, **error.details}, type=error.code,
        non_retryable=not retryable,
    )  # fmt: skip


@contextmanager
def as_temporal() -> Iterator[None]:
    """Around a host's call into the governance logic: a refusal leaves as Temporal's."""
    try:
        yield
    except GantralError as error:
        # The refusal's own cause, if it had one, stays its cause.
        raise to_application_error(error) from error.__cause__

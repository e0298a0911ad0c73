"""How a call to an approver channel failed, in the terms the relay acts on.

A vendor's answer is either *transient* (rate limited, 5xx, a timeout, the whole channel's
credentials refused: the same call can succeed later, so it is retried with backoff, after
at least the vendor's `Retry-After`) or *permanent* (a deleted message, a channel the app
is not in, a field too long: the same call can never succeed, so the relay gives up on that
one delivery, posts a fallback, counts it, and goes on with the channel's other requests).
"""

from __future__ import annotations

import email.utils
import time

__all__ = ["MAX_RETRY_AFTER", "DeliveryFailed", "retry_after_seconds"]

# A Retry-After longer than this is capped: one answer cannot stall a channel for hours.
MAX_RETRY_AFTER = 900.0


class DeliveryFailed(Exception):
    """A channel refused or could not be reached. `code` is the vendor's error (Slack's
    `error`, Jira's HTTP status) or the transport failure, never a credential."""

    def __init__(
        self, what: str, code: str, *, permanent: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{what} failed: {code}")
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """An HTTP `Retry-After` (delay-seconds or an HTTP-date) as seconds from now, within
    [0, MAX_RETRY_AFTER]; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)

"""What the relay's activities do with a failed channel call (gantral.channels.delivery).

Transient: raise, and Temporal retries the activity with backoff (to a minute), or after
the vendor's `Retry-After` when it gave one. Permanent: never raised (a non-retryable
failure would end the channel's relay workflow); the activity posts a fallback, counts
the delivery in `gantral_channel_undeliverable_total`, logs it, and returns, so the
channel's next request goes out at once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gantral.channels.delivery import DeliveryFailed
from gantral.observability.metrics import ChannelMetrics

__all__ = ["Failures", "log"]

log = logging.getLogger("gantral.channels.relay")


class Failures:
    def __init__(self, channel: str, metrics: ChannelMetrics) -> None:
        self.channel = channel
        self.metrics = metrics

    def retry(self, call: str, exc: DeliveryFailed) -> Exception:
        """The exception to raise for a transient failure of `call`."""
        self.metrics.retried(self.channel, call, exc.code)
        attempt = activity.info().attempt if activity.in_activity() else 0
        log.warning("%s %s: %s (attempt %d, retried)", self.channel, call, exc, attempt)
        if exc.retry_after is None:
            return exc
        return ApplicationError(
            str(exc),
            exc.code,
            type=type(exc).__name__,
            next_retry_delay=timedelta(seconds=exc.retry_after),
        )

    def gave_up(self, call: str, reason: str, fallback: str, about: str) -> None:
        """Count and log one delivery given up on; `fallback`: posted, failed or none."""
        self.metrics.gave_up(self.channel, call, reason, fallback)
        log.error(
            "%s %s for %s given up: %s (permanent; fallback %s)",
            self.channel,
            call,
            about,
            reason,
            fallback,
        )

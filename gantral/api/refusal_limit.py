"""A per-caller token bucket for recording refusals, kept in the API process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("gantral.api.authz")

__all__ = ["RefusalLimiter"]


class RefusalLimiter:
    def __init__(
        self,
        *,
        burst: int,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = 10_000,
    ) -> None:
        self._burst = float(burst)
        self._rate = per_second
        self._clock = clock
        self._max = max_callers
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, at)
        self.suppressed = 0

    def admit(self, caller: str) -> bool:
        """Whether to record this caller's refusal now; False once its burst is spent."""
        now = self._clock()
        tokens, at = self._buckets.get(caller, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if len(self._buckets) >= self._max and caller not in self._buckets:
            self._buckets.clear()  # bounded memory; forgetting only makes it lenient
        if tokens < 1:
            self._buckets[caller] = (tokens, now)
            self.suppressed += 1
            log.warning("refusals of %s not recorded: over the rate limit", caller)
            return False
        self._buckets[caller] = (tokens - 1, now)
        return True

"""Where the SIEM exporter writes: CloudEvents over HTTP (retried, then dead-lettered) and
OCSF JSON lines (a file a log shipper tails, or stdout).

An HTTP answer decides what happens to an event: 2xx delivered; 408, 429 and 5xx (and a
connection that fails) are retried with exponential backoff and jitter, honouring
Retry-After; any other 4xx will not get better and is dead-lettered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

from gantral.audit.siem_records import CLOUDEVENTS_CONTENT_TYPE

__all__ = ["Attempted", "CloudEventsPoster", "JsonLines", "RetryPolicy", "retry_after_seconds"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    initial: float
    maximum: float
    retry_after_max: float

    def backoff(self, attempt: int) -> float:
        """Full jitter over an exponential ceiling (attempt 1 is the first retry)."""
        ceiling = min(self.maximum, self.initial * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)


@dataclass(frozen=True)
class Attempted:
    """How one event's delivery ended: `error` is None when delivered."""

    attempts: int
    error: str | None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """RFC 9110 Retry-After: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _retriable(status: int) -> bool:
    return status in (408, 425, 429) or status >= 500


class CloudEventsPoster:
    """One structured-mode CloudEvent per POST, retried per `policy`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        policy: RetryPolicy,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.client = client
        self.url = url
        self.policy = policy
        self.headers = {**(headers or {}), "Content-Type": CLOUDEVENTS_CONTENT_TYPE}

    async def deliver(
        self,
        event: dict[str, Any],
        stop: asyncio.Event,
        on_retry: Callable[[], None] | None = None,
    ) -> Attempted | None:
        """None when `stop` was set before the event was delivered or given up."""
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        attempt = 0
        while True:
            attempt += 1
            wait: float | None = None
            try:
                resp = await self.client.post(self.url, content=body, headers=self.headers)
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"[:500]
            else:
                if resp.is_success:
                    return Attempted(attempt, None)
                problem = f"HTTP {resp.status_code}: {resp.text[:300]}"
                if not _retriable(resp.status_code):
                    return Attempted(attempt, problem)
                hinted = retry_after_seconds(resp.headers.get("Retry-After"))
                if hinted is not None:
                    wait = min(hinted, self.policy.retry_after_max)
            if attempt >= self.policy.max_attempts:
                return Attempted(attempt, problem)
            if on_retry is not None:
                on_retry()
            delay = wait if wait is not None else self.policy.backoff(attempt)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                return None


class JsonLines:
    """Appends one JSON object per line; `flush` makes the lines durable (fsync) before
    the cursor moves past them."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._out: TextIO = path.open("a", encoding="utf-8") if path else sys.stdout

    def write(self, record: dict[str, Any]) -> None:
        self._out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self._out.flush()
        if self.path is not None:
            os.fsync(self._out.fileno())

    def close(self) -> None:
        if self.path is not None:
            self._out.close()

"""The follower's read of the audit log, and one delivery attempt."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import httpx
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from gantral.callbacks import signing
from gantral.callbacks.resolutions import Batch, Delivery, ResolutionReader
from gantral.observability.metrics import CallbackMetrics
from gantral.settings.callback_urls import url_problem

__all__ = ["REFUSED", "CallbackActivities", "FetchInput"]

log = logging.getLogger("gantral.callbacks")

# The error type of a delivery that must not be retried (URL not allowed, no secret).
REFUSED = "CallbackRefused"


class FetchInput(BaseModel):
    cursor: int
    limit: int = 100


class CallbackActivities:
    def __init__(
        self,
        reader: ResolutionReader,
        http: httpx.AsyncClient,
        secret: str | None,
        allowed_url_prefixes: list[str],
        metrics: CallbackMetrics | None = None,
    ) -> None:
        self._reader = reader
        self._http = http
        self._secret = secret
        self._allowed = allowed_url_prefixes
        self._metrics = metrics or CallbackMetrics()

    @activity.defn(name="gantral.callbacks.head")
    async def head(self) -> int:
        return await self._reader.head()

    @activity.defn(name="gantral.callbacks.fetch")
    async def fetch(self, params: FetchInput) -> Batch:
        return await self._reader.after(params.cursor, params.limit)

    @activity.defn(name="gantral.callbacks.deliver")
    async def deliver(self, delivery: Delivery) -> int:
        """POST the signed webhook; any answer but 2xx (or no answer) is retried by
        Temporal with backoff. Returns the receiver's status."""
        if self._secret is None:
            self._metrics.failed("no_secret", final=True)
            raise ApplicationError(
                "no callback signing secret configured", type=REFUSED, non_retryable=True
            )
        # Checked again here (the API refuses such a URL at start): the allow-list may
        # have changed since, and an instance may have started before this check existed.
        problem = url_problem(delivery.url, self._allowed)
        if problem is not None:
            log.warning("callback to %s refused: %s", delivery.url, problem)
            self._metrics.failed("url_not_allowed", final=True)
            raise ApplicationError(
                f"callback URL {delivery.url} refused: {problem}",
                type=REFUSED,
                non_retryable=True,
            )
        at = datetime.now(UTC)
        body = json.dumps(delivery.payload(at.isoformat()), separators=(",", ":"))
        headers = signing.sign(self._secret, delivery.msg_id, at, body)
        headers["content-type"] = "application/json"
        try:
            response = await self._http.post(delivery.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection"
            self._metrics.failed(reason, final=_last_attempt())
            raise ApplicationError(f"callback to {delivery.url} failed: {exc!r}") from exc
        if not response.is_success:
            self._metrics.failed(f"http_{response.status_code}", final=_last_attempt())
            raise ApplicationError(f"callback to {delivery.url} answered {response.status_code}")
        self._metrics.delivered()
        return response.status_code


def _last_attempt() -> bool:
    """Whether Temporal gives up on this delivery if this attempt fails."""
    info = activity.info()
    limit = info.retry_policy.maximum_attempts if info.retry_policy else 0
    return 0 < limit <= info.attempt

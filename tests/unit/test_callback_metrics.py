"""What one delivery attempt counts (gantral_callback_*): a 2xx is a delivery; a failed
attempt is a failure by reason, and a retry unless it was the last attempt or refused,
then a dead letter. The process test (tests/integration/test_callbacks_process.py) checks
the same counters on a running worker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import httpx
import pytest
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from gantral.callbacks import signing
from gantral.callbacks.activities import CallbackActivities
from gantral.callbacks.resolutions import Delivery
from gantral.observability.metrics import CallbackMetrics

URL = "https://hooks.example.com/gantral/x"
DELIVERY = Delivery(
    msg_id="inst_1.req_1",
    url=URL,
    instance_id="inst_1",
    request_id="req_1",
    status="APPROVED",
    event="DECISION_RECORDED",
    decided_by="alice",
    log_index=7,
)


def _attempt(
    handler: Any, *, attempt: int = 1, secret: str | None = "s", url: str = URL
) -> CallbackMetrics:
    metrics = CallbackMetrics()

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            activities = CallbackActivities(
                None,  # type: ignore[arg-type]  # the reader is not used by deliver
                http,
                signing.new_secret() if secret else None,
                ["https://hooks.example.com/gantral/"],
                metrics,
            )
            env = ActivityEnvironment()
            env.info = dataclasses.replace(
                env.info, attempt=attempt, retry_policy=RetryPolicy(maximum_attempts=3)
            )
            delivery = DELIVERY.model_copy(update={"url": url})
            await env.run(activities.deliver, delivery)

    with contextlib.suppress(ApplicationError):
        asyncio.run(run())
    return metrics


def _value(metrics: CallbackMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels or None)
    return value or 0.0


def test_a_2xx_is_a_delivery() -> None:
    metrics = _attempt(lambda request: httpx.Response(204))
    assert _value(metrics, "gantral_callback_deliveries_total") == 1
    assert _value(metrics, "gantral_callback_failures_total", reason="http_204") == 0


@pytest.mark.parametrize(
    ("error", "reason"),
    [(httpx.ConnectError("refused"), "connection"), (httpx.ReadTimeout("slow"), "timeout")],
)
def test_a_failed_attempt_is_retried_until_the_last(error: Exception, reason: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    retried = _attempt(fail, attempt=2)
    assert _value(retried, "gantral_callback_failures_total", reason=reason) == 1
    assert _value(retried, "gantral_callback_retries_total", reason=reason) == 1
    assert _value(retried, "gantral_callback_dead_letters_total", reason=reason) == 0
    last = _attempt(fail, attempt=3)
    assert _value(last, "gantral_callback_retries_total", reason=reason) == 0
    assert _value(last, "gantral_callback_dead_letters_total", reason=reason) == 1


def test_a_receiver_error_is_counted_by_status() -> None:
    metrics = _attempt(lambda request: httpx.Response(429))
    assert _value(metrics, "gantral_callback_retries_total", reason="http_429") == 1
    assert _value(metrics, "gantral_callback_deliveries_total") == 0


def test_refusals_are_dead_letters_at_once_and_never_call() -> None:
    called: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        called.append(request)
        return httpx.Response(200)

    outside = _attempt(record, url="https://evil.example.com/x")
    assert _value(outside, "gantral_callback_dead_letters_total", reason="url_not_allowed") == 1
    unsigned = _attempt(record, secret=None)
    assert _value(unsigned, "gantral_callback_dead_letters_total", reason="no_secret") == 1
    assert called == []

"""Prometheus metrics of the worker and the sink, on one port per process:

- `/metrics`: Gantral's own (the sink derives them from the audit events it stores, so it
  sees every event type) followed by the Temporal SDK's (the Runtime's Prometheus
  telemetry, scraped from its loopback endpoint and passed through);
- `/healthz` (the process answers) and `/readyz` (its Temporal worker is polling) for
  Kubernetes probes.

Labels are bounded: workflow and team ids come from configuration, reasons and types from
code; never an instance, request or actor id.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, ThreadingWSGIServer, generate_latest
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from gantral.audit.read_model import OpenRequests, Stored
from gantral.domain.audit_event import AuditEventType
from gantral.domain.audit_payloads import (
    AccessRefused,
    AuditPayload,
    DecisionRecorded,
    StateTransition,
    TimedOut,
    ViolationRecorded,
    parse_payload,
)

__all__ = [
    "CallbackMetrics",
    "ChannelMetrics",
    "GantralMetrics",
    "MetricsServer",
    "install_process_runtime",
    "temporal_runtime",
    "verification_failures",
]

log = logging.getLogger("gantral.metrics")
_TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TERMINATED", "EXPIRED"}
_LABELLED_BY_PAYLOAD = {
    AuditEventType.STATE_TRANSITION,
    AuditEventType.DECISION_RECORDED,
    AuditEventType.TIMED_OUT,
    AuditEventType.VIOLATION,
    AuditEventType.ACCESS_REFUSED,
}
# Minutes to days: humans decide slowly.
_DECISION_BUCKETS = (10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200)


def install_process_runtime(with_metrics: bool) -> str | None:
    """Make the process's default Temporal Runtime (before any client connects): core logs
    through Python logging and, if asked, the SDK's metrics on a loopback port. Returns the
    URL those metrics are read from."""
    address = f"127.0.0.1:{_loopback_port()}" if with_metrics else None
    Runtime.set_default(temporal_runtime(address))
    return f"http://{address}/metrics" if address else None


def _loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def temporal_runtime(metrics_address: str | None) -> Runtime:
    """A Runtime whose core logs go through Python logging (the JSON handler, the masking
    filter) instead of the Rust side's own stderr lines, and, with `metrics_address`
    (host:port), the SDK's Prometheus metrics served there."""
    telemetry = TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
        ),
        metrics=PrometheusConfig(bind_address=metrics_address) if metrics_address else None,
    )
    return Runtime(telemetry=telemetry)


def verification_failures(registry: CollectorRegistry) -> Counter:
    """`gantral_verification_failures{source}`, defined once for every process that
    verifies the stored log: the sink (`sink`, at each checkpoint) and the API (`api`, on
    `GET /v1/audit/instances/{id}/verify`)."""
    return Counter(
        "gantral_verification_failures",
        "The stored log failed verification (tampering), by where it was found.",
        ["source"],
        registry=registry,
    )


class ChannelMetrics:
    """The channel relay's metrics (`gantral channels`, on `GANTRAL_CHANNELS__METRICS_PORT`).
    Labels: the channel (slack, jira), the call (post, update, reply, comment, transition)
    and the vendor's error code, all bounded by code and the vendors' documented errors."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.undeliverable = Counter(
            "gantral_channel_undeliverable",
            "Channel deliveries given up on a permanent error (the relay went on with the "
            "channel's other requests), by whether a fallback was posted.",
            ["channel", "call", "reason", "fallback"],
            registry=r,
        )
        self.retries = Counter(
            "gantral_channel_retries",
            "Channel calls failed on a transient error and retried (rate limits, 5xx, timeouts).",
            ["channel", "call", "reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "gantral_channel_duplicates",
            "Copies of a request found in a channel after an attempt whose answer was lost.",
            ["channel"],
            registry=r,
        )

    def gave_up(self, channel: str, call: str, reason: str, fallback: str) -> None:
        self.undeliverable.labels(channel, call, _bounded(reason), fallback).inc()

    def retried(self, channel: str, call: str, reason: str) -> None:
        self.retries.labels(channel, call, _bounded(reason)).inc()


class CallbackMetrics:
    """The callback worker's metrics (`python -m gantral.workers.callbacks`, on
    `GANTRAL_CALLBACKS__METRICS_PORT`). One delivery is one resolution's webhook; it takes
    one attempt or more. Reasons are bounded by code: `http_<status>` (a receiver's non-2xx
    answer), `timeout`, `connection`, `url_not_allowed`, `no_secret`; a dead letter after
    the last attempt carries the reason that attempt failed with."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter(
            "gantral_callback_deliveries",
            "Callbacks delivered: the receiver answered 2xx.",
            registry=r,
        )
        self.failures = Counter(
            "gantral_callback_failures",
            "Callback delivery attempts that failed, by reason.",
            ["reason"],
            registry=r,
        )
        self.retries = Counter(
            "gantral_callback_retries",
            "Failed callback attempts Temporal retries with backoff, by reason.",
            ["reason"],
            registry=r,
        )
        self.dead_letters = Counter(
            "gantral_callback_dead_letters",
            "Callbacks given up for good (refused, or every attempt failed): the receiver "
            "will not be called again for that resolution, by reason.",
            ["reason"],
            registry=r,
        )

    def delivered(self) -> None:
        self.deliveries.inc()

    def failed(self, reason: str, *, final: bool) -> None:
        """An attempt failed; `final`: no attempt follows (refused, or the last one)."""
        reason = _bounded(reason)
        self.failures.labels(reason).inc()
        if final:
            self.dead_letters.labels(reason).inc()
        else:
            self.retries.labels(reason).inc()


def _bounded(reason: str) -> str:
    # Vendors' error codes are short identifiers; anything else is not a label value.
    ok = len(reason) <= 48 and reason.replace("_", "").replace(".", "").isalnum()
    return reason if ok else "other"


class GantralMetrics:
    """Gantral's own metrics; one registry per process (or per test)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.instances_started = Counter(
            "gantral_instances_started", "Instances started.", ["workflow", "team"], registry=r
        )
        self.instances_finished = Counter(
            "gantral_instances_finished",
            "Instances that reached an end state, by outcome.",
            ["workflow", "team", "outcome"],
            registry=r,
        )
        self.requests_opened = Counter(
            "gantral_requests_opened", "Human requests opened.", ["materiality"], registry=r
        )
        self.requests_decided = Counter(
            "gantral_requests_decided",
            "Decisions recorded, by decision type.",
            ["decision_type", "materiality"],
            registry=r,
        )
        self.decision_seconds = Histogram(
            "gantral_decision_seconds",
            "Time from a human request to its decision.",
            ["materiality"],
            buckets=_DECISION_BUCKETS,
            registry=r,
        )
        # Both from the shared read model: every sink replica reports the same value.
        self.requests_open = Gauge(
            "gantral_requests_open",
            "Human requests waiting for a decision (every sink replica reports all of them).",
            registry=r,
        )
        self.oldest_open_request = Gauge(
            "gantral_oldest_open_request_seconds",
            "Age of the oldest human request still waiting (every sink replica reports it).",
            registry=r,
        )
        self.escalations = Counter("gantral_escalations", "Escalations to a next tier.", registry=r)
        self.reminders = Counter("gantral_reminders", "Reminders sent.", registry=r)
        self.expiries = Counter(
            "gantral_expiries", "Requests that timed out, by outcome.", ["outcome"], registry=r
        )
        self.refusals = Counter(
            "gantral_refusals",
            "Calls refused (the access log), by what was attempted and why.",
            ["attempted", "reason"],
            registry=r,
        )
        self.grants = Counter(
            "gantral_grants", "Grants issued, used, and refused.", ["event"], registry=r
        )
        self.violations = Counter(
            "gantral_violations", "Step events refused as violations.", ["reason"], registry=r
        )
        self.batches = Counter(
            "gantral_sink_batches", "Audit batches, by result.", ["result"], registry=r
        )
        self.events = Counter("gantral_sink_events", "Audit events stored.", ["type"], registry=r)
        self.lag = Histogram(
            "gantral_sink_lag_seconds",
            "Time from an event to its storage.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.checkpoint_age = Gauge(
            "gantral_checkpoint_age_seconds", "Age of the latest signed checkpoint.", registry=r
        )
        self.checkpoint_pending = Gauge(
            "gantral_checkpoint_pending_events",
            "Stored events not yet covered by a signed checkpoint.",
            registry=r,
        )
        self.verification_failures = verification_failures(r)
        self.attestation_refusals = Counter(
            "gantral_attestation_refusals",
            "Calls or batches refused for a missing or invalid attestation, by where.",
            ["where"],
            registry=r,
        )
        self.closed_outside = Counter(
            "gantral_executions_closed_outside",
            "Instance executions closed around Gantral (terminated, reset, timed out, failed,"
            " history lost) with their audit chain unsealed, recorded in the access log.",
            ["status"],
            registry=r,
        )
        self._oldest_open: datetime | None = None
        self.oldest_open_request.set_function(self._oldest_age)

    # -- the sink --------------------------------------------------------------------

    def stored(self) -> None:
        """A batch answered as stored (committed now, or earlier: an idempotent retry)."""
        self.batches.labels("stored").inc()

    def committed(self, events: list[Stored], now: datetime | None = None) -> None:
        """Events this replica committed (never those of a retried batch already stored):
        each is counted once across replicas, with labels from the shared read model."""
        now = now or datetime.now(UTC)
        for event in events:
            self.events.labels(event.type).inc()
            self.lag.observe(max(0.0, (now - event.at).total_seconds()))
            self._observe(event)

    def open_requests(self, open_now: OpenRequests) -> None:
        """From the read model, the same on every replica (alert on max, not sum)."""
        self.requests_open.set(open_now.count)
        self._oldest_open = open_now.oldest_opened_at

    def _oldest_age(self) -> float:
        # At scrape time, so the age grows between refreshes.
        oldest = self._oldest_open
        return 0.0 if oldest is None else max(0.0, (datetime.now(UTC) - oldest).total_seconds())

    def refused(self, reason: str) -> None:
        self.batches.labels("refused").inc()
        if reason == "attestation":
            self.attestation_refusals.labels("sink").inc()

    def failed(self) -> None:
        self.batches.labels("failed").inc()

    def _observe(self, event: Stored) -> None:
        kind, materiality = event.type, event.materiality
        if kind == AuditEventType.INSTANCE_STARTED:
            self.instances_started.labels(event.workflow, event.team).inc()
        elif kind == AuditEventType.HUMAN_REQUESTED:
            self.requests_opened.labels(materiality).inc()
        elif kind == AuditEventType.ESCALATED:
            self.escalations.inc()
        elif kind == AuditEventType.REMINDER_SENT:
            self.reminders.inc()
        elif kind == AuditEventType.GRANT_ISSUED:
            self.grants.labels("issued").inc()
        elif kind == AuditEventType.GRANT_USED:
            self.grants.labels("used").inc()
        elif kind in _LABELLED_BY_PAYLOAD:
            # Parsed only where a label comes from the payload (the sink's hot path).
            try:
                payload = parse_payload(kind, event.payload)
            except ValueError as error:
                # Already stored: a payload no model reads only loses its labelled count.
                log.warning("metrics skip a %s payload that does not parse: %s", kind, error)
                return
            self._observe_payload(payload, event)

    def _observe_payload(self, p: AuditPayload, event: Stored) -> None:
        if isinstance(p, StateTransition) and p.to_state in _TERMINAL:
            self.instances_finished.labels(event.workflow, event.team, str(p.to_state)).inc()
        elif isinstance(p, DecisionRecorded):
            self.requests_decided.labels(p.decision_type, event.materiality).inc()
            if event.waited_seconds is not None:
                self.decision_seconds.labels(event.materiality).observe(event.waited_seconds)
        elif isinstance(p, TimedOut):
            self.expiries.labels(p.outcome).inc()
        elif isinstance(p, ViolationRecorded):
            self.violations.labels(p.reason).inc()
            if "grant" in p.reason:
                self.grants.labels("refused").inc()
        elif isinstance(p, AccessRefused):
            self.refusals.labels(p.attempted, p.reason).inc()
            if p.reason in ("attestation", "unattested", "bad_signature"):
                self.attestation_refusals.labels("access_log").inc()

    def checkpoint(self, latest_timestamp: str | None, covered: int, stored: int) -> None:
        """After each publishing tick: how old the latest checkpoint is, and how much of
        the log it leaves uncovered."""
        self.checkpoint_pending.set(max(0, stored - covered))
        if latest_timestamp:
            at = datetime.strptime(latest_timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            self.checkpoint_age.set((datetime.now(UTC) - at).total_seconds())


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes every few seconds are not worth a log line


class MetricsServer:
    """`/metrics`, `/healthz`, `/readyz` on `host:port`, in a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        temporal_metrics_url: str | None = None,
    ) -> None:
        self.registry = registry
        self.temporal_metrics_url = temporal_metrics_url
        self.ready = False
        self._server = make_server(host, port, self._app, ThreadingWSGIServer, _Quiet)
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(
        self, environ: dict[str, Any], start: Callable[[str, list[tuple[str, str]]], Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body = generate_latest(self.registry) + self._temporal()
            start("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        if path == "/healthz" or (path == "/readyz" and self.ready):
            start("200 OK", [("Content-Type", "application/json")])
            return [b'{"status":"ok"}']
        if path == "/readyz":
            start("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"status":"unavailable"}']
        start("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    def _temporal(self) -> bytes:
        if not self.temporal_metrics_url:
            return b""
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.temporal_metrics_url, timeout=2) as resp:  # noqa: S310 - loopback
                return bytes(resp.read())
        except OSError as error:
            log.warning(
                "Temporal SDK metrics unavailable after %.1fs: %s",
                time.monotonic() - started,
                type(error).__name__,
            )
            return b""

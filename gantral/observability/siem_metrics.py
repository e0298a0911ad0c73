"""The SIEM exporter's metrics (`gantral audit stream`, on `GANTRAL_EXPORTER__METRICS_PORT`).
Labelled only by the exporter's name and output, both from configuration."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from gantral.audit.siem_exporter import ExportCounters

__all__ = ["ExporterMetrics"]


class ExporterMetrics:
    def __init__(self, name: str, output: str) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        labels = {"exporter": name, "output": output}
        self.exported = Counter(
            "gantral_export_events",
            "Committed audit events handed to the SIEM output (delivered or written).",
            list(labels),
            registry=r,
        ).labels(**labels)
        self.retries = Counter(
            "gantral_export_retries",
            "Failed delivery attempts that are retried with backoff (or after Retry-After).",
            list(labels),
            registry=r,
        ).labels(**labels)
        self.dead_letters = Counter(
            "gantral_export_dead_letters",
            "Audit events given up after the last attempt (or refused with a 4xx), stored in"
            " the exporter's dead_letters table; the stream moved on.",
            list(labels),
            registry=r,
        ).labels(**labels)
        self.cursor = Gauge(
            "gantral_export_cursor_log_index",
            "The last audit log index the exporter handed over (-1: none yet).",
            list(labels),
            registry=r,
        ).labels(**labels)

    def counters(self) -> ExportCounters:
        return ExportCounters(
            exported=self.exported.inc,
            retried=self.retries.inc,
            dead_lettered=self.dead_letters.inc,
            cursor=self.cursor.set,
        )

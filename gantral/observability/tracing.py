"""OpenTelemetry traces: one trace per instance operation, across API -> Temporal client ->
workflow -> activities -> sink -> PostgreSQL.

- `configure_tracing()` (each process, at start): an SDK tracer provider exporting over
  OTLP/HTTP only when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
  `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; otherwise nothing is set up and every span
  is a no-op. psycopg is instrumented either way (cheap without a provider).
- `traced(client)`: the same Temporal connection with Temporal's `TracingInterceptor`, so
  client calls, workflows, updates and activities carry the trace through Temporal headers.
- `GantralSpanProcessor`: puts the instance id, request id and actor (from the log
  context, or Temporal's workflow id) on every span. Nothing else is added: no arguments,
  no tokens, no payloads.
"""

from __future__ import annotations

import os

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor

from gantral.observability import context

__all__ = ["GantralSpanProcessor", "configure_tracing", "instrument_psycopg", "traced"]

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class GantralSpanProcessor(SpanProcessor):
    """Adds `gantral.instance_id`, `gantral.request_id`, `gantral.actor` where known."""

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        attributes = span.attributes or {}
        instance = context.instance_id.get() or attributes.get("temporalWorkflowID")
        if instance:
            span.set_attribute("gantral.instance_id", str(instance))
        if (request := context.request_id.get()) is not None:
            span.set_attribute("gantral.request_id", request)
        if (actor := context.actor.get()) is not None:
            span.set_attribute("gantral.actor", actor)

    def on_end(self, span: ReadableSpan) -> None:
        pass


def configure_tracing(service: str) -> TracerProvider | None:
    """The process's tracer provider, exporting over OTLP if `OTEL_*` says where; None
    (and nothing exported) otherwise."""
    instrument_psycopg()
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    if not any(os.environ.get(name) for name in _ENDPOINTS):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME") or f"gantral-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(GantralSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def instrument_psycopg() -> None:
    """Spans for every PostgreSQL call (the statement, never its parameters)."""
    instrumentor = PsycopgInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(enable_commenter=False)


def traced(client: Client) -> Client:
    """`client`'s connection with Temporal's tracing interceptor (unless it has one)."""
    config = client.config()
    if any(isinstance(i, TracingInterceptor) for i in config["interceptors"]):
        return client
    return Client(
        config["service_client"],
        namespace=config["namespace"],
        data_converter=config["data_converter"],
        interceptors=[*config["interceptors"], TracingInterceptor()],
        default_workflow_query_reject_condition=config["default_workflow_query_reject_condition"],
        header_codec_behavior=config["header_codec_behavior"],
    )

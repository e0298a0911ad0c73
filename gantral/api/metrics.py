"""Prometheus metrics of one API instance, served unauthenticated at `/metrics`.

One registry per app (not the process-global one), so several apps in one process
(tests) never collide. Labels use route templates, never raw paths or principals.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from gantral.audit.verifier import NO_PUBLIC_KEY
from gantral.audit.views import VerifyView
from gantral.observability.metrics import verification_failures

__all__ = ["ApiMetrics", "install", "router"]


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gantral_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gantral_http_request_seconds",
            "HTTP request latency by route template.",
            ["route", "method"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "gantral_auth_refusals",
            "Requests refused for identity (401) or permission (403), by reason.",
            ["status", "reason"],
            registry=self.registry,
        )
        # Readiness (issue 17): never audited, only counted here.
        self.readiness_blocked = Counter(
            "gantral_readiness_blocked_steps",
            "Authorize calls answered NOT_READY, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.budget_used = Gauge(
            "gantral_readiness_budget_used",
            "Cost reported in the team's current budget period (tokens, or a currency).",
            ["team", "unit"],
            registry=self.registry,
        )
        self.budget_limit = Gauge(
            "gantral_readiness_budget_limit",
            "The team's budget for its current period (tokens, or a currency).",
            ["team", "unit"],
            registry=self.registry,
        )
        # Labelled `api`; the sink counts under `sink` (one definition, both processes).
        self.verification_failures = verification_failures(self.registry)

    def verified(self, view: VerifyView) -> None:
        """Count a verdict that found the stored log broken. A missing public key alone is
        configuration (the verdict says so), not tampering: counting it would page on
        every verification of a keyless deployment."""
        if any(problem.code != NO_PUBLIC_KEY for problem in view.problems):
            self.verification_failures.labels("api").inc()


def _route(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def install(app: FastAPI) -> ApiMetrics:
    metrics = ApiMetrics()
    app.state.metrics = metrics

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = _route(request)
        metrics.latency.labels(route, request.method).observe(time.perf_counter() - started)
        metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        return response

    return metrics


router = APIRouter(tags=["health"])


# Outside the OpenAPI document, like every Prometheus endpoint: it is not part of the API.
@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics. Needs no token, like the health routes: expose it only to the
    scraper's network."""
    registry: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)

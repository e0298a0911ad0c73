"""The published contract lists every status an operation can answer, from one place.

FastAPI documents what a route declares; the edge (`api.edge`) and the error table
(`api.errors`) answer more than any route declares. This post-processing of the generated
OpenAPI document adds, to every operation:

    401, 503     the token is checked (and the issuer's keys fetched) on every route but
                 the public ones; a dependency being down is 503 everywhere
    413, 422     the edge refuses large and malformed or non-I-JSON bodies, and query,
                 path and body validation answer 422
    403          routes that ask the permission table (they depend on `api.authz`)
    404          routes naming a resource in their path
    409          routes whose core call can refuse for state (declared by the routers,
                 plus the known ones below)

and points every error response at the one error body (`Error`), replacing FastAPI's
`HTTPValidationError`, which this API never answers. Every create (201) in this API is
idempotent, answering 200 with the existing resource on a repeat: that 200 is listed too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api import authz

__all__ = ["ERROR_SCHEMA", "install", "operation_id"]

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Every error: the class (`error`), the precise `reason`, and a message.",
    "required": ["error", "reason", "message"],
    "properties": {
        "error": {"type": "string", "description": "invalid_input, not_found, conflict, ..."},
        "reason": {"type": "string", "description": "Machine-readable cause"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": True},
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}

_DESCRIPTIONS = {
    401: "No valid bearer token (the reason says why)",
    403: "Not allowed by the permission table",
    404: "Unknown resource",
    409: "Not allowed in the resource's current state",
    413: "Request body larger than the configured limit",
    422: "Invalid request: validation, malformed JSON, not I-JSON, too deep",
    503: "A dependency (Temporal, PostgreSQL, the token issuer) is unavailable; retry",
}

# Statuses a route's core call answers that the route itself does not declare.
_KNOWN: dict[tuple[str, str], tuple[int, ...]] = {
    ("get", "/v1/audit/checkpoints/latest"): (404,),
    ("get", "/v1/audit/instances/{instance_id}/events/{seq}/inclusion"): (409,),
}


def _dependency_calls(dependant: Dependant) -> Iterable[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


def _statuses(route: APIRoute, method: str, authenticated: bool) -> set[int]:
    statuses: set[int] = set()
    if authenticated:
        statuses |= {401, 413, 422, 503}
    if authz.get_caller in set(_dependency_calls(route.dependant)):
        statuses.add(403)
    if route.dependant.path_params:
        statuses.add(404)
    statuses.update(_KNOWN.get((method, route.path_format), ()))
    return statuses


def complete_responses(schema: dict[str, Any], app: FastAPI, public: Iterable[str]) -> None:
    """Add the statuses above to every operation of `schema` (generated from `app`)."""
    public_paths = frozenset(public)
    # Included routers are expanded lazily by FastAPI; walk them as its generator does.
    routes = {
        (context.path_format, method.lower()): context.original_route
        for context in routing.iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.original_route.methods or ()
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes.get((path, method))
            if route is None:
                continue
            operation["operationId"] = op_id = operation_id(route)
            operation["summary"] = _SUMMARIES.get(op_id) or _words(op_id)
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status in _statuses(route, method, path not in public_paths):
                responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
            if "201" in responses:
                repeat = {**responses["201"], "description": "Already exists: the same resource"}
                responses.setdefault("200", repeat)
            for code, response in responses.items():
                if code.startswith(("4", "5")) and path not in public_paths:
                    response["content"] = {"application/json": {"schema": _ERROR_REF}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def install(app: FastAPI, public: Iterable[str]) -> None:
    """Serve (and publish, via `gantral specs write`) the completed document."""
    public_paths = tuple(public)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # FastAPI's generator caches its result; it is completed once, in place.
            complete_responses(generate(), app, public_paths)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# Operation ids are the handler's name in lowerCamelCase (`decide`, `getInstance`): short,
# meaningful and stable, since generated clients name their methods after them. These
# handlers' names alone would be ambiguous or generic: (tag, name) -> id.
_OPERATION_IDS = {
    ("health", "healthz"): "getHealth",
    ("health", "readyz"): "getReady",
    ("audit", "get_instance"): "getInstanceAudit",
    ("audit", "verify_instance"): "verifyInstanceAudit",
    ("audit", "get_bundle"): "getInstanceBundle",
    ("replay", "replay"): "replayInstance",
    ("readiness", "readiness"): "getInstanceReadiness",
    ("channels", "interactions"): "slackInteractions",
    ("channels", "events"): "slackEvents",
    ("channels", "webhook"): "jiraWebhook",
    ("triggers", "github"): "githubTrigger",
    ("triggers", "webhooks"): "webhookTrigger",
}
# Summaries are the ids in words ("getInstanceAudit" -> "Get Instance Audit"), so no two
# operations share one; these read better.
_SUMMARIES = {"getInstanceAudit": "Get Instance Audit Trail", "getReady": "Get Readiness Probe"}


def operation_id(route: APIRoute) -> str:
    """FastAPI's `generate_unique_id_function`: the operation's stable id."""
    tag = str(route.tags[0]) if route.tags else ""
    if (tag, route.name) in _OPERATION_IDS:
        return _OPERATION_IDS[(tag, route.name)]
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _words(identifier: str) -> str:
    words = re.findall(r"[a-z]+|[A-Z][a-z]*", identifier)
    return " ".join(word.capitalize() for word in words)

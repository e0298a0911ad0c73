"""The published contract lists every status an operation can answer, from one place.

FastAPI documents what a route declares; the edge (`gantral.api.edge`) and the error table
(`gantral.api.errors`) answer more than any route declares. This post-processing of the generated
OpenAPI document adds, to every operation:

    401, 503     the token is checked (and the issuer's keys fetched) on every route but
                 the public ones; a dependency being down is 503 everywhere
    413, 422     the edge refuses large and malformed or non-I-JSON bodies, and query,
                 path and body validation answer 422
    403          routes that ask the permission table (they depend on `gantral.api.authz`)
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

from gantral.api import authz
from gantral.domain.ijson import MAX_DEPTH, MAX_SAFE_INTEGER
from gantral.domain.limits import MAX_FIELD_BYTES
from gantral.errors import Reason
from gantral.policy.models import Policy
from gantral.policy.schema import document_schema
from gantral.policy.templates import WorkflowTemplate

__all__ = [
    "ERROR_SCHEMA",
    "POLICY_DOCUMENT",
    "REASON_SCHEMA",
    "TEMPLATE_DOCUMENT",
    "install",
    "operation_id",
]

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Every error: the class (`error`), the precise `reason`, and a message.",
    "required": ["error", "reason", "message"],
    "properties": {
        "error": {"type": "string", "description": "invalid_input, not_found, conflict, ..."},
        "reason": {"$ref": "#/components/schemas/ErrorReason"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": True},
    },
}
# `gantral.errors.Reason`, named apart from the SDKs' own client-side refusal reasons.
REASON_SCHEMA: dict[str, Any] = {
    "title": "ErrorReason",
    "type": "string",
    "description": "Machine-readable cause: stable values, listed with their meaning in "
    "specs/reasons.json.",
    "enum": sorted(reason.value for reason in Reason),
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
    ("get", "/v1/audit/checkpoints/latest/note"): (404,),
    ("get", "/v1/audit/consistency"): (404,),
    ("get", "/v1/instances"): (404,),
    ("get", "/v1/audit/instances/{instance_id}/events/{seq}/inclusion"): (404, 409),
    ("put", "/v1/workflows/{workflow_id}"): (409,),
    ("get", "/v1/audit/refusals"): (404,),
    ("get", "/v1/audit/evidence"): (404, 409),
    ("get", "/v1/audit/instances/{instance_id}/evidence"): (404, 409),
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
    components["ErrorReason"] = REASON_SCHEMA
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


# --- I-JSON, declared -------------------------------------------------------------------
# Every JSON body is I-JSON (RFC 7493), checked at the edge (422 `not_i_json` naming the
# field): so every integer in the document is bounded, and free-form objects (arguments,
# context, trigger context, context_delta, detail) hold `JsonValue`s, not anything.
_JSON_VALUE_REF = "#/components/schemas/JsonValue"
_IJSON_NOTE = (
    f"I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` "
    "too), unique member names, "
    f"no lone surrogates; nested at most {MAX_DEPTH} levels and at most {MAX_FIELD_BYTES} "
    "bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or "
    "`field_too_large`, naming the field."
)
JSON_VALUE: dict[str, Any] = {
    "title": "JsonValue",
    "description": "Any JSON value the API accepts. " + _IJSON_NOTE,
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "string"},
        {"type": "integer", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER},
        {"type": "number", "not": {"type": "integer"}},
        {"type": "array", "items": {"$ref": _JSON_VALUE_REF}},
        {"type": "object", "additionalProperties": {"$ref": _JSON_VALUE_REF}},
    ],
}


def _declare_ijson(node: Any) -> None:
    """Bound every number schema to ±(2^53-1) (I-JSON as the edge checks it, floats too),
    and type every free-form object's values."""
    if isinstance(node, list):
        for item in node:
            _declare_ijson(item)
        return
    if not isinstance(node, dict):
        return
    types = node.get("type")
    numeric = ("integer", "number")
    if types in numeric or (isinstance(types, list) and any(t in types for t in numeric)):
        low, high = node.get("minimum"), node.get("maximum")
        # FastAPI publishes `ge=1` as 1.0: any number is a bound to keep.
        if not isinstance(low, int | float) or low < -MAX_SAFE_INTEGER:
            node["minimum"] = -MAX_SAFE_INTEGER
        if not isinstance(high, int | float) or high > MAX_SAFE_INTEGER:
            node["maximum"] = MAX_SAFE_INTEGER
    if types == "array" and "items" not in node:  # an array of anything: of JSON values
        node["items"] = {"$ref": _JSON_VALUE_REF}
    if (
        types == "object"
        and node.get("additionalProperties") is True
        and not node.get("properties")
    ):
        node["additionalProperties"] = {"$ref": _JSON_VALUE_REF}
        note = "A JSON object. " + _IJSON_NOTE
        node["description"] = f"{node['description']} {note}" if "description" in node else note
    for key, value in node.items():
        if key not in ("enum", "const", "default", "examples", "example"):
            _declare_ijson(value)


# --- Policy and template documents --------------------------------------------------------
# `PUT /v1/policies/{id}` and `PUT /v1/workflows/{id}` read YAML (or JSON) documents
# themselves; their bodies are declared with the published document schemas (the same
# pydantic models, in "validation" mode), under their own names (suffix `Input`) so they
# never collide with the stored (output) forms.
POLICY_DOCUMENT = "PolicyDocumentInput"
TEMPLATE_DOCUMENT = "WorkflowTemplateInput"
_DOCUMENT_REF = "#/components/schemas/{model}Input"


def _document_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (Policy, WorkflowTemplate):
        schema = document_schema(model, ref_template=_DOCUMENT_REF)
        for name, definition in schema.pop("$defs", {}).items():
            schemas[f"{name}Input"] = definition
        schemas[f"{model.__name__}Input"] = schema
    # The path names the template: the body's `id` may repeat it (anything else is 422
    # `id_mismatch`), so the declared body leaves it out and the API fills it in.
    # The same for a policy's PUT body (a copy: inlined step policies and backtest
    # candidates keep their optional `id`).
    policy = {**schemas[f"{Policy.__name__}Input"]}
    policy["properties"] = {k: v for k, v in policy["properties"].items() if k != "id"}
    policy["description"] = (
        "A policy document. Its id is the path's `policy_id`: the document may repeat it as "
        f"`id`; another value is 422 `id_mismatch`.\n\n{policy.get('description', '')}"
    )
    policy["title"] = "PolicyDocument"
    schemas[POLICY_DOCUMENT] = policy
    template = schemas[TEMPLATE_DOCUMENT]
    template["properties"].pop("id", None)
    template["required"] = [r for r in template.get("required", []) if r != "id"]
    template["description"] = (
        "A workflow template document. Its id is the path's `workflow_id`: the document "
        "may repeat it as `id`; another value is 422 `id_mismatch`."
    )
    return schemas


# --- Links --------------------------------------------------------------------------------
# A created resource links to the operations that take its id, so generated and stateful
# clients can follow them: (operation, its id parameter, where the id is in the answer).
_LINKS = {
    ("post", "/v1/instances"): {"instance_id": "$response.body#/instance_id"},
    ("put", "/v1/policies/{policy_id}"): {
        "policy_id": "$response.body#/policy_id",
        "version": "$response.body#/version",
    },
    ("put", "/v1/workflows/{workflow_id}"): {
        "workflow_id": "$response.body#/workflow_id",
        "version": "$response.body#/version",
    },
}
# Not linked: the history archive exists only once the instance has closed (its
# operation says so); a link from a start would promise a 409.
_UNLINKED = {"getHistoryArchive"}


def _add_links(schema: dict[str, Any]) -> None:
    paths: dict[str, Any] = schema.get("paths", {})
    for (method, source), values in _LINKS.items():
        responses = paths[source][method]["responses"]
        links: dict[str, Any] = {}
        for path, operations in paths.items():
            names = set(re.findall(r"{(\w+)}", path))
            first = next(iter(values))
            if first not in names or path == source:
                continue
            for operation in operations.values():
                op_id = operation["operationId"]
                if op_id in _UNLINKED:
                    continue
                given = {k: v for k, v in values.items() if k in names}
                links[op_id] = {"operationId": op_id, "parameters": given}
        for code in ("200", "201"):
            if code in responses:
                responses[code]["links"] = links


def _declare_documents(schema: dict[str, Any]) -> None:
    paths: dict[str, Any] = schema.get("paths", {})
    bodies = {
        ("put", "/v1/policies/{policy_id}"): POLICY_DOCUMENT,
        ("put", "/v1/workflows/{workflow_id}"): TEMPLATE_DOCUMENT,
    }
    for (method, path), name in bodies.items():
        ref = {"$ref": f"#/components/schemas/{name}"}
        body = paths[path][method]["requestBody"]
        body["description"] = (
            "The document, as YAML or JSON (JSON is YAML): a mapping, validated against "
            "the published schema; errors name the field and the line (422 "
            "`invalid_document`). At most 1,000,000 bytes."
        )
        for media in body["content"].values():
            media["schema"] = ref
    backtest = schema["components"]["schemas"].get("BacktestRequest", {})
    candidate = backtest.get("properties", {}).get("policy")
    if candidate is not None:
        candidate.pop("anyOf", None)
        candidate["anyOf"] = [
            {"$ref": f"#/components/schemas/{Policy.__name__}Input"},
            {"type": "null"},
        ]


def shape(schema: dict[str, Any]) -> None:
    """Declare what the code enforces beyond FastAPI's own generation (documents, I-JSON,
    links). Runs after `complete_responses`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in _document_schemas().items():
        components.setdefault(name, definition)
    _declare_documents(schema)
    _declare_ijson(schema.get("paths", {}))
    _declare_ijson(components)
    components["JsonValue"] = JSON_VALUE
    _add_links(schema)


def install(app: FastAPI, public: Iterable[str]) -> None:
    """Serve (and publish, via `gantral specs write`) the completed document."""
    public_paths = tuple(public)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # FastAPI's generator caches its result; it is completed once, in place.
            complete_responses(generate(), app, public_paths)
            assert app.openapi_schema is not None
            shape(app.openapi_schema)
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

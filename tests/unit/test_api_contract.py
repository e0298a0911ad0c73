"""The OpenAPI document lists every status the edge and the error table can answer."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gantral.api.app import create_app
from gantral.api.routers import jira, slack, triggers

PUBLIC = {"/healthz", "/readyz"}
# No bearer token either: they carry their own signatures (and answer 401 for a bad one).
WEBHOOKS = {*slack.PATHS, *jira.PATHS, *triggers.PATHS}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_authenticated_operations_list_the_edge_statuses(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        if path in WEBHOOKS:
            continue
        if path in PUBLIC:
            assert "401" not in operation["responses"], (method, path)
            continue
        responses = operation["responses"]
        for status in ("401", "413", "422", "503"):
            assert status in responses, (method, path, status)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == ERROR_REF


def test_permission_routes_list_403_and_resource_routes_404(document: dict[str, Any]) -> None:
    responses = {(m, p): o["responses"] for p, m, o in _operations(document)}
    assert "403" in responses[("put", "/v1/workflows/{workflow_id}")]
    assert "403" not in responses[("get", "/v1/workflows/{workflow_id}")]
    assert "403" in responses[("get", "/v1/audit/consistency")]
    assert "404" in responses[("get", "/v1/audit/instances/{instance_id}")]
    assert "404" in responses[("get", "/v1/audit/checkpoints/latest")]
    assert "404" in responses[("get", "/v1/audit/checkpoints/latest/note")]
    assert "409" in responses[("get", "/v1/audit/instances/{instance_id}/events/{seq}/inclusion")]
    assert "404" not in responses[("get", "/v1/policies")]


def test_idempotent_creates_list_200_and_no_fastapi_validation_body(
    document: dict[str, Any],
) -> None:
    for path, method, operation in _operations(document):
        if "201" in operation["responses"]:
            assert "200" in operation["responses"], (method, path)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Error"]["required"]) == {"error", "reason", "message"}


def test_operation_ids_are_meaningful_unique_and_pinned(document: dict[str, Any]) -> None:
    """Generated clients name their methods after operation ids: short, camelCase, one per
    operation, and the same from release to release (the committed spec pins them all)."""
    operations = _operations(document)
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"[a-z][A-Za-z]*", i) for i in ids), ids
    summaries = [op["summary"] for _, _, op in operations]
    assert len(summaries) == len(set(summaries))
    by_route = {(method, path): op["operationId"] for path, method, op in operations}
    assert by_route[("post", "/v1/instances/{instance_id}/decisions")] == "decide"
    assert by_route[("get", "/v1/instances/{instance_id}")] == "getInstance"
    assert by_route[("get", "/v1/audit/instances/{instance_id}")] == "getInstanceAudit"


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("/v1/halts/h1:lift", ["POST"]),
        ("/v1/standing-grants/stg_1:revoke", ["POST"]),
        ("/v1/policies/p:evaluate", ["POST"]),
        ("/v1/halts/h1", ["GET"]),
    ],
)
def test_a_custom_method_path_serves_only_its_own_methods(path: str, served: list[str]) -> None:
    """`/{id}` must not match `h1:lift` (ids hold no colon): `Allow` on a 405 would list
    GET for a path that has none (schemathesis ST205)."""
    from gantral.api.errors import allowed_methods

    assert allowed_methods(create_app(), path) == served


def test_the_halt_scope_schema_says_exactly_one_kind(document: dict[str, Any]) -> None:
    """The published HaltScope accepts exactly what the model accepts, so a client
    generated from the contract never sends a scope the API refuses with 422."""
    import itertools

    import jsonschema
    from pydantic import ValidationError

    from gantral.governance.halts import HaltScope

    schema = document["components"]["schemas"]["HaltScope"]
    values = {"team": ["t", None], "agent": ["a", None], "workflow": ["w", None],
              "version": [2, None], "deployment": [True, None]}  # fmt: skip
    for present in itertools.product([False, True], repeat=len(values)):
        keys = [k for k, p in zip(values, present, strict=True) if p]
        for chosen in itertools.product(*(values[k] for k in keys)):
            scope = dict(zip(keys, chosen, strict=True))
            try:
                HaltScope.model_validate(scope)
                accepted = True
            except ValidationError:
                accepted = False
            assert jsonschema.Draft202012Validator(schema).is_valid(scope) == accepted, scope


def test_the_standing_pattern_schema_says_exactly_one_kind(document: dict[str, Any]) -> None:
    """The published ArgumentPattern accepts exactly what the model accepts (one kind;
    a range needs `max`), so a schema-valid standing grant is never a 422."""
    import itertools

    import jsonschema
    from pydantic import ValidationError

    from gantral.governance.standing import ArgumentPattern

    # Its free-form values refer to the document's JsonValue: resolve them there.
    schema = {
        **document["components"]["schemas"]["ArgumentPattern"],
        "components": document["components"],
    }
    values = {"equals": [7, None], "min": [1, 9, None], "max": [5, None],
              "prefix": ["ab", None], "one_of": [[1, 2], None]}  # fmt: skip
    for present in itertools.product([False, True], repeat=len(values)):
        keys = [k for k, p in zip(values, present, strict=True) if p]
        for chosen in itertools.product(*(values[k] for k in keys)):
            pattern = dict(zip(keys, chosen, strict=True))
            try:
                ArgumentPattern.model_validate(pattern)
                accepted = True
            except ValidationError:
                accepted = False
            assert jsonschema.Draft202012Validator(schema).is_valid(pattern) == accepted, pattern


def test_a_standing_pattern_names_argument_paths_in_the_schema(
    document: dict[str, Any],
) -> None:
    import jsonschema

    components = document["components"]
    schema = {**components["schemas"]["StandingAsk"], "components": components}
    ask = {"pattern": {"amount": {"max": 5}}, "ttl": "10m", "max_uses": 2}
    assert jsonschema.Draft202012Validator(schema).is_valid(ask)
    bad = {**ask, "pattern": {"not a path!": {"max": 5}}}
    assert not jsonschema.Draft202012Validator(schema).is_valid(bad)

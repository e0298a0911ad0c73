"""The published JSON Schemas of policy and workflow-template files, rendered from the
pydantic models so the schema and the loader can never disagree (a unit test compares
the committed files under `specs/` with this render)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gantral.policy.models import Policy
from gantral.policy.templates import WorkflowTemplate

_BASE = "https://gantral.dev/specs/"
_DOCUMENTS: dict[str, tuple[type[BaseModel], str]] = {
    "policy.schema.json": (Policy, "Gantral policy"),
    "workflow-template.schema.json": (WorkflowTemplate, "Gantral workflow template"),
}


NO_NUL: dict[str, Any] = {"not": {"pattern": "\\u0000"}}
"""Every free string of a document: no U+0000 (PostgreSQL jsonb, where documents are
stored, cannot hold it; the loader refuses it, naming the field). Said as `not` a pattern:
a pattern listing what is allowed would also allow lone surrogates to generators, which
I-JSON refuses, and no regex engine everyone uses can exclude them."""


def document_schema(model: type[BaseModel], **options: Any) -> dict[str, Any]:
    """The model's JSON Schema ("validation" mode: what an author may write), with what the
    loader checks beyond the model declared: no NUL in any string or key."""
    schema = model.model_json_schema(mode="validation", **options)
    _declare_no_nul(schema)
    return schema


def _declare_no_nul(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _declare_no_nul(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "enum", "const", "not"} & node.keys():
        node["not"] = {**NO_NUL["not"]}
    if node.get("type") == "object" and node.get("additionalProperties", True) is not False:
        node.setdefault("propertyNames", {"not": {**NO_NUL["not"]}})
    for key, value in node.items():
        if key not in ("enum", "const", "default", "examples", "propertyNames", "not"):
            _declare_no_nul(value)


def render_schemas() -> dict[str, str]:
    """File name under `specs/` -> its content."""
    return {name: _render(model, title, name) for name, (model, title) in _DOCUMENTS.items()}


def _render(model: type[BaseModel], title: str, name: str) -> str:
    # "validation" mode: the schema describes what an author may write (durations as
    # "30m" or seconds, defaults optional), not what the API echoes back.
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _BASE + name,
        **document_schema(model),
    }
    schema["title"] = title
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema under `directory` (normally `specs/`)."""
    written = []
    for name, content in render_schemas().items():
        path = directory / name
        path.write_text(content)
        written.append(path)
    return written


if __name__ == "__main__":  # python -m gantral.policy.schema [DIRECTORY]
    import sys

    for p in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "specs")):
        print(f"wrote {p}")

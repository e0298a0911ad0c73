"""Renders the Python SDK's wire models from specs/openapi.json, as the TypeScript
(`sdk/typescript/scripts/gen-types.mjs`) and Go (`sdk/go/cmd/gentypes`) SDKs' types are.

    .venv/bin/python -m gantral.python_sdk_types            # writes the SDK's _types_gen.py
    .venv/bin/python -m gantral.python_sdk_types --check    # exit 1 when it is stale

Only the schemas the SDK speaks (ROOTS and what they refer to) become pydantic models, so
the SDK (`gantral_sdk`) carries no server code. `gantral specs write` (into the repository's
specs/) and `make sdk-types` run it; tests/unit/test_python_sdk_types.py fails when the
committed file is stale.
Reads JSON only: nothing of the server is imported.
"""

from __future__ import annotations

import json
import keyword
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "openapi.json"
TARGET = ROOT / "sdk" / "python" / "src" / "gantral_sdk" / "_types_gen.py"

# What the SDK sends and reads; everything they refer to comes along.
ROOTS = (
    "AgentEventKind",
    "AgentEventResult",
    "AuditTrailView",
    "AuthorizeOutcome",
    "AuthorizeResult",
    "BatchDecisionItem",
    "BatchDecisionResult",
    "BreakGlassView",
    "Cost",
    "Decision",
    "DecisionResult",
    "DecisionType",
    "Delegation",
    "Grant",
    "Halt",
    "HumanRequest",
    "InboxItem",
    "InboxPage",
    "InstancePage",
    "InstanceSummary",
    "InstanceView",
    "MyDelegations",
    "RequestStatus",
    "State",
    "VerifyView",
)
# Free-form JSON stays `Any` (what callers hold): a digest is computed over exactly the
# values received, never over a model's coercion of them; the server checks I-JSON.
_FREE_FORM = "JsonValue"
_LINE = 100  # ruff's line length (pyproject.toml)
_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
}


def _ref(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _refs(node: Any) -> set[str]:
    """Schema names `node` refers to directly."""
    if isinstance(node, dict):
        found = {_ref(node["$ref"])} if "$ref" in node else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def _closure(schemas: dict[str, Any]) -> list[str]:
    """ROOTS and everything they refer to, each after what it refers to (alphabetical
    otherwise), so every annotation names a class already defined."""
    wanted: set[str] = set()
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in wanted or name == _FREE_FORM:
            continue
        wanted.add(name)
        todo.extend(_refs(schemas[name]))
    ordered: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for dep in sorted(_refs(schemas[name]) - {_FREE_FORM, name}):
            place(dep)
        ordered.append(name)

    for name in sorted(wanted):
        place(name)
    return ordered


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = _ref(schema["$ref"])
        return "Any" if name == _FREE_FORM else name
    if "anyOf" in schema:
        parts: list[str] = []
        for option in schema["anyOf"]:
            part = _type(option)
            if part not in parts:
                parts.append(part)
        if "Any" in parts:
            return "Any"
        # `X | None` reads best with None last.
        parts.sort(key=lambda p: p == "None")
        return " | ".join(parts)
    kind = schema.get("type")
    if kind == "string":
        return "datetime" if schema.get("format") == "date-time" else "str"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    if kind == "null":
        return "None"
    if kind == "array":
        return f"list[{_type(schema['items'])}]" if "items" in schema else "list[Any]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not schema.get("properties"):
            return f"dict[str, {_type(extra)}]"
        return "dict[str, Any]"
    raise ValueError(f"no Python type for schema {schema!r}")


def _scalar(schema: dict[str, Any]) -> dict[str, Any]:
    """The branch of `X | null` that carries the constraints, else the schema itself."""
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    return options[0] if len(options) == 1 else schema


def _field(name: str, schema: dict[str, Any], required: bool, enums: set[str]) -> str:
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("model_"):
        raise ValueError(f"field name {name!r} is not a usable attribute name")
    annotation = _type(schema)
    default: str | None = None  # an expression, or `default_factory=...`
    if "default" in schema:
        value = schema["default"]
        ref = schema.get("$ref")
        if ref and _ref(ref) in enums:
            # A model's default is not validated: it must already be the enum member.
            default = f"{_ref(ref)}.{str(value).upper()}"
        elif isinstance(value, dict | list):
            default = f"default_factory=lambda: {_literal(value)}"
        else:
            default = _literal(value)
    elif not required:
        # Absent from the answer: the server's own default (an empty collection) or none.
        if annotation.endswith("| None"):
            default = "None"
        elif annotation.startswith("list["):
            default = "default_factory=list"
        elif annotation.startswith("dict["):
            default = "default_factory=dict"
        else:
            annotation, default = f"{annotation} | None", "None"
    bound = _scalar(schema)
    integral = bound.get("type") == "integer"
    constraints = [
        f"{arg}={_literal(int(bound[key]) if integral else bound[key])}"
        for key, arg in _CONSTRAINTS.items()
        if key in bound
    ]
    if default is not None and not constraints and not default.startswith("default_factory"):
        return f"    {name}: {annotation} = {default}"
    args = constraints
    if default is not None:
        first = default if default.startswith("default_factory") else f"default={default}"
        args = [first, *constraints]
    if not args:
        return f"    {name}: {annotation}"
    return _call(f"    {name}: {annotation} = Field(", args)


def _call(head: str, args: list[str]) -> str:
    """`head` + args + `)`, wrapped as ruff formats a call longer than a line."""
    line = f"{head}{', '.join(args)})"
    if len(line) <= _LINE:
        return line
    inner = f"        {', '.join(args)}"
    if len(inner) <= _LINE:
        return f"{head}\n{inner}\n    )"
    return "\n".join([head, *(f"        {arg}," for arg in args), "    )"])


def _literal(value: Any) -> str:
    """A Python literal as ruff formats it (strings in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _docstring(text: str | None, indent: str = "    ") -> list[str]:
    if not text:
        return []
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = text.splitlines()
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""', ""]
    body = [f"{indent}{line}" if line else "" for line in lines[1:]]
    return [f'{indent}"""{lines[0]}', *body, f'{indent}"""', ""]


def render(spec: dict[str, Any]) -> str:
    schemas: dict[str, Any] = spec["components"]["schemas"]
    names = _closure(schemas)
    enums = {n for n in names if "enum" in schemas[n]}
    out = [
        '"""Wire models of the Gantral API, generated from specs/openapi.json by',
        "gantral/python_sdk_types.py. Do not edit: run `make sdk-types`; a test fails when this",
        'file and the spec drift apart."""',
        "",
        "from __future__ import annotations",
        "",
        "from datetime import datetime",
        "from enum import StrEnum",
        "from typing import Any",
        "",
        "from pydantic import BaseModel, Field",
        "",
        "__all__ = [",
        *(f'    "{n}",' for n in sorted(names)),
        "]",
    ]
    for name in names:
        schema = schemas[name]
        out += ["", ""]
        if name in enums:
            out.append(f"class {name}(StrEnum):")
            out += _docstring(schema.get("description"))
            for value in schema["enum"]:
                member = str(value).upper()
                if not member.isidentifier() or keyword.iskeyword(member):
                    raise ValueError(f"enum value {value!r} of {name} is not a member name")
                out.append(f"    {member} = {_literal(value)}")
            continue
        out.append(f"class {name}(BaseModel):")
        out += _docstring(schema.get("description"))
        required = set(schema.get("required", []))
        properties: dict[str, Any] = schema.get("properties", {})
        # In the spec's order; pydantic's fields are keyword-only, defaults may come first.
        fields = [_field(p, s, p in required, enums) for p, s in properties.items()]
        out += fields or ["    pass"]
    return "\n".join(out) + "\n"


def rendered() -> str:
    return render(json.loads(SPEC.read_text()))


def main(argv: list[str]) -> int:
    text = rendered()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `make sdk-types`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

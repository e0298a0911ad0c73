"""Every reason the server can answer is in the `Reason` catalogue, once, and documented.

mypy holds the error classes and the refusal helpers to `Reason`; this scan catches what
types cannot: a reason spelled as a string literal in an error body or an untyped call.
"""

import ast
import json
import re
from pathlib import Path

import pytest

from gantral.errors import BY_CODE, Conflict, GantralError, Reason

GANTRAL = Path(__file__).resolve().parents[2] / "gantral"
# The Python SDK raises its own client-side reasons; it holds no server code.
CLIENT_SIDE = {GANTRAL / "sdk"}
# The refusal helpers of `gantral.workflows.refusals`: the reason is their first argument
# (`refuse` takes the error class first).
HELPERS = {"conflict": 0, "forbidden": 0, "not_found": 0, "invalid": 0, "refuse": 1}


def _server_modules() -> list[Path]:
    return [
        path
        for path in sorted(GANTRAL.rglob("*.py"))
        if not any(part in path.parents for part in CLIENT_SIDE)
    ]


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _spelled_reasons(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every reason written as a string literal instead of a `Reason`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "reason":
            text = _literal(node.value)
            if text is not None:
                found.append((node.value.lineno, text))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                text = _literal(value)
                if _literal(key) == "reason" and text is not None:
                    found.append((value.lineno, text))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            at = HELPERS.get(name or "")
            if at is not None and len(node.args) > at:
                text = _literal(node.args[at])
                if text is not None:
                    found.append((node.args[at].lineno, text))
    return found


def test_the_scan_finds_a_spelled_reason() -> None:
    source = (
        'raise Conflict("x", reason="stale")\n'
        'body = {"error": "conflict", "reason": "stale"}\n'
        'raise conflict("stale", "x")\n'
        'raise refuse(Conflict, "stale", "x")\n'
        "raise Conflict('x', reason=Reason.STALE)\n"
    )
    assert sorted(line for line, _ in _spelled_reasons(ast.parse(source))) == [1, 2, 3, 4]


def test_no_server_module_spells_a_reason_as_a_string() -> None:
    spelled = [
        f"{path.relative_to(GANTRAL.parent)}:{line}: {text!r}"
        for path in _server_modules()
        for line, text in _spelled_reasons(ast.parse(path.read_text(), str(path)))
    ]
    assert not spelled, "use a `gantral.errors.Reason` member:\n" + "\n".join(spelled)


def test_reasons_are_unique_documented_and_snake_case() -> None:
    values = [member.value for member in Reason]
    assert len(values) == len(set(values))
    assert len(Reason) > 100
    for member in Reason:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", member.value), member
        assert member.name == member.value.upper(), member
        assert member.description and "\n" not in member.description, member


def test_a_reason_is_its_wire_value() -> None:
    assert Reason.UNKNOWN_INSTANCE == "unknown_instance"
    assert Reason("unknown_instance") is Reason.UNKNOWN_INSTANCE
    assert Reason.of("unknown_instance") is Reason.UNKNOWN_INSTANCE
    assert Reason.of("no_such_reason") is None
    assert Reason.of(None) is None
    error = Conflict("the request changed", reason=Reason.STALE)
    assert error.to_dict() == {
        "error": "conflict",
        "reason": "stale",
        "message": "the request changed",
    }


@pytest.mark.parametrize("cls", [GantralError, *BY_CODE.values()])
def test_an_error_without_a_reason_answers_its_code_as_a_catalogued_reason(
    cls: type[GantralError],
) -> None:
    error = cls("no more precise cause")
    assert error.reason is Reason(cls.code)


def test_the_catalogue_is_published_in_specs_and_the_openapi_error_schema() -> None:
    specs = GANTRAL.parent / "specs"
    published = json.loads((specs / "reasons.json").read_text())
    assert published == {member.value: member.description for member in Reason}
    openapi = json.loads((specs / "openapi.json").read_text())
    schemas = openapi["components"]["schemas"]
    assert schemas["Error"]["properties"]["reason"] == {"$ref": "#/components/schemas/ErrorReason"}
    assert schemas["ErrorReason"]["enum"] == sorted(published)

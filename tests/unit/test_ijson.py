import json
import math

import pytest

from gantral.domain.ijson import MAX_DEPTH, MAX_SAFE_INTEGER, find_violation, ijson_problem


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        MAX_SAFE_INTEGER,
        -MAX_SAFE_INTEGER,
        1.5,
        -1e15,
        float(MAX_SAFE_INTEGER),
        "",
        "plain \U0001f600 emoji",
        json.loads('"\\ud83d\\ude00"'),
        [],
        {},
        {"a": [1, {"b": "c"}], "d": None},
        _nested(MAX_DEPTH),
    ],
)
def test_i_json_values_pass(value: object) -> None:
    assert ijson_problem(value) is None


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (2**53, "$"),
        (-(2**53), "$"),
        ({"tokens": 2**60}, "$.tokens"),
        ([1, 2, [3, 2**64]], "$[2][1]"),
        ({"x": 3.4e16}, "$.x"),
        ({"x": -1e300}, "$.x"),
        ({"x": math.nan}, "$.x"),
        ({"x": math.inf}, "$.x"),
        ({"x": -math.inf}, "$.x"),
        ({"s": json.loads('"\\ud800"')}, "$.s"),
        ({"s": json.loads('"a\\udc00b"')}, "$.s"),
        ({"odd key": [json.loads('"\\udfff"')]}, "$['odd key'][0]"),
        ({"k": {json.loads('"\\ud800"'): 1}}, "$.k"),
        ({"k": {1: "int key"}}, "$.k"),
        ({"k": (1, 2)}, "$.k"),
        ({"k": b"bytes"}, "$.k"),
    ],
)
def test_non_i_json_values_name_the_path(value: object, where: str) -> None:
    problem = ijson_problem(value)
    assert problem is not None
    reason, message = problem
    assert reason == "not_i_json"
    assert message.startswith(f"{where}: ")


def test_first_problem_in_document_order_is_named() -> None:
    problem = ijson_problem({"a": 1, "b": 2**60, "c": math.nan})
    assert problem is not None
    assert problem[1].startswith("$.b: ")


def test_custom_path_prefix() -> None:
    problem = ijson_problem({"n": 2**60}, path="$.arguments")
    assert problem == ("not_i_json", "$.arguments.n: integer outside the I-JSON range ±(2**53-1)")


def test_depth_limit_counts_containers() -> None:
    assert ijson_problem(_nested(MAX_DEPTH)) is None
    problem = ijson_problem(_nested(MAX_DEPTH + 1))
    assert problem is not None
    assert problem[0] == "too_deep"
    assert problem[1].startswith("$" + ".a" * MAX_DEPTH + ": ")
    assert ijson_problem([[[]]], max_depth=2) == (
        "too_deep",
        "$[0][0]: nesting deeper than 2 levels",
    )
    assert ijson_problem([[1]], max_depth=2) is None


def test_ten_thousand_deep_input_does_not_blow_the_stack() -> None:
    deep: object = []
    for _ in range(10_000):
        deep = [deep]
    problem = ijson_problem(deep)
    assert problem is not None
    assert problem[0] == "too_deep"
    assert ijson_problem(deep, max_depth=20_000) is None


def test_module_is_pure() -> None:
    import ast
    from pathlib import Path

    import gantral.domain.ijson as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"__future__", "math", "typing"}


def test_violation_keeps_the_path_apart_for_error_details() -> None:
    violation = find_violation({"a: b": [0, 2**60]}, path="$.body")
    assert violation is not None
    assert violation.path == "$.body['a: b'][1]"
    assert violation.message == f"{violation.path}: {violation.problem}"

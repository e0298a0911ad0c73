"""Snapshot redaction: the JSONPath subset, and that what was removed is recorded."""

from __future__ import annotations

import pytest

from gantral.audit.redaction import RedactionError, parse_path, redact


def test_paths_parse() -> None:
    assert parse_path("$.a.b") == ["a", "b"]
    assert parse_path("$.items[*].x") == ["items", None, "x"]
    assert parse_path('$["odd key"][2]') == ["odd key", 2]
    for bad in ("a.b", "$", "$..a", "$.a[", "$.a[x]"):
        with pytest.raises(RedactionError):
            parse_path(bad)


def test_redaction_removes_members_and_nulls_elements_and_records_paths() -> None:
    snapshot = {
        "prompt": "secret",
        "items": [{"x": 1, "y": 2}, {"x": 3}, {"y": 4}],
        "tags": ["a", "b"],
        "odd key": {"v": 1},
    }
    redacted, removed = redact(
        snapshot, ["$.prompt", "$.items[*].x", "$.tags[1]", '$["odd key"].v', "$.absent.z"]
    )
    assert redacted == {"items": [{"y": 2}, {}, {"y": 4}], "tags": ["a", None], "odd key": {}}
    assert removed == ["$.items[0].x", "$.items[1].x", "$.prompt", "$.tags[1]", '$["odd key"].v']
    assert snapshot["prompt"] == "secret"  # the input is never modified


def test_nothing_to_redact_records_nothing() -> None:
    assert redact({"a": 1}, ["$.b"]) == ({"a": 1}, [])

"""The committed JSON Schemas are exactly what the models render."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gantral.policy.schema import render_schemas

SPECS = Path(__file__).parents[2] / "specs"


@pytest.mark.parametrize("name", sorted(render_schemas()))
def test_committed_schema_matches_the_models(name: str) -> None:
    committed = (SPECS / name).read_text()
    assert committed == render_schemas()[name], (
        f"specs/{name} is stale: run `python -m gantral.policy.schema specs`"
    )


def test_schema_describes_what_authors_write() -> None:
    schema = json.loads(render_schemas()["policy.schema.json"])
    props = schema["properties"]
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"materiality_rules", "by_materiality", "tiers", "separation_of_duties"} <= set(props)
    assert props["grant_ttl"]["anyOf"][0]["type"] == "string"  # "15m", not ISO 8601
    assert props["on_timeout"]["$ref"].endswith("OnTimeout")
    assert schema["$defs"]["OnTimeout"]["enum"] == ["EXPIRE", "REJECT", "APPROVE"]


def test_rendering_is_deterministic() -> None:
    assert render_schemas() == render_schemas()

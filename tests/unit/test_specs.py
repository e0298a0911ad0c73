"""Every generated file under specs/ matches what the code renders today."""

from pathlib import Path

import pytest

from gantral.specs import render_all

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.mark.parametrize("name", sorted(render_all()))
def test_committed_spec_matches_code(name: str) -> None:
    assert (SPECS / name).read_text() == render_all()[name], f"run `make specs` ({name})"


def test_openapi_is_3_1_and_versioned() -> None:
    import json

    doc = json.loads(render_all()["openapi.json"])
    assert doc["openapi"].startswith("3.1")
    paths = [p for p in doc["paths"] if p not in {"/healthz", "/readyz"}]
    assert paths and all(p.startswith("/v1/") for p in paths)


def test_interactive_docs_are_off_in_production() -> None:
    from gantral.api.app import create_app
    from gantral.settings import Settings

    def paths(settings: Settings) -> set[str]:
        return {getattr(r, "path", "") for r in create_app(settings).routes}

    assert {"/docs", "/openapi.json"} <= paths(Settings())
    routes = paths(Settings.model_construct(profile="production"))
    assert not routes & {"/docs", "/redoc", "/openapi.json"}
    # The API itself is unchanged: only the unauthenticated docs are gone.
    assert (
        "/v1/instances"
        in create_app(Settings.model_construct(profile="production")).openapi()["paths"]
    )

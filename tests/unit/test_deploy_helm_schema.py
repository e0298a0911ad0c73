"""The chart's values.schema.json (a values typo fails rendering instead of being ignored),
its Temporal TLS and API-key values wired to the settings every process connects with,
and the optional ServiceMonitor/PodMonitor. Rendered by Helm's own engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.service import TLSConfig

from gantral.core import api_key, tls_config
from gantral.startup import resolve_secrets
from tests.helpers.deploy_settings import settings_from
from tests.helpers.helm_chart import (
    CHART,
    PRODUCTION,
    WITH_EXTRAS,
    container_env,
    deployment_pod,
    merge_values,
    objects_of,
    render_chart,
    secret_file_of,
)

helm = pytest.importorskip("helm_python", reason="helm-python-sdk not installed")

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
# Kubernetes objects handed to the manifests unchanged; the API server validates them.
PASSTHROUGH = {
    "global",
    "podSecurityContext",
    "securityContext",
    "affinity",
    "httpHeaders",
    "tolerations",
    "topologySpreadConstraints",
    "extraEnv",
    "extraVolumes",
    "extraVolumeMounts",
    "metricsIngressFrom",
    "apiIngressFrom",
    "extraEgress",
}


@pytest.mark.parametrize(
    ("typo", "where"),
    [
        ({"profil": "development"}, "'profil' not allowed"),
        ({"api": {"replica": 3}}, "'replica' not allowed"),
        ({"temporal": {"tls": {"enable": True}}}, "'enable' not allowed"),
        ({"database": {"writer": {"existingSecrets": "x"}}}, "'existingSecrets' not allowed"),
        ({"metrics": {"serviceMonitor": {"enabeld": True}}}, "'enabeld' not allowed"),
        ({"worker": {"resources": {"limit": {"memory": "1Gi"}}}}, "'limit' not allowed"),
        ({"api": {"replicas": "two"}}, "/api/replicas"),
        ({"profile": "prod"}, "/profile"),
        ({"temporal": {"tls": {"enabled": "yes"}}}, "/temporal/tls/enabled"),
        ({"extraConfig": {"GANTRAL_API__PORT": 8000}}, "/extraConfig/GANTRAL_API__PORT"),
        ({"extraConfig": {"gantral_api__port": "8000"}}, "propertyName 'gantral_api__port'"),
        ({"metrics": {"podMonitor": {"interval": "thirty"}}}, "/metrics/podMonitor/interval"),
    ],
)
def test_a_values_typo_fails_rendering(typo: dict[str, Any], where: str) -> None:
    with pytest.raises(helm.HelmValuesError, match="schema") as refused:
        render_chart(merge_values(PRODUCTION, typo))
    assert where in str(refused.value)


def test_lint_reports_a_typo() -> None:
    report = helm.lint(CHART, merge_values(PRODUCTION, {"sink": {"replcas": 1}}), strict=True)
    assert any("'replcas' not allowed" in error for error in report["errors"])


def _objects_in_schema(node: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, child in node.get("properties", {}).items():
        found += _objects_in_schema(child, f"{path}.{name}")
    for branch in node.get("oneOf", []):
        found += _objects_in_schema(branch, path)
    if isinstance(node.get("items"), dict):
        found += _objects_in_schema(node["items"], f"{path}[]")
    return found


def test_every_chart_object_refuses_unknown_keys_and_every_value_has_a_type() -> None:
    loose = []
    for path, node in _objects_in_schema(SCHEMA, "values"):
        name = path.rsplit(".", 1)[-1].removesuffix("[]")
        if not ({"type", "enum", "oneOf"} & set(node)):
            loose.append(f"{path}: no type")
        types = node.get("type")
        if (types == "object" or types == ["object"]) and name not in PASSTHROUGH:
            # Either a closed object, or a map whose values are typed (labels, annotations).
            extra = node.get("additionalProperties")
            if extra is not False and not isinstance(extra, dict):
                loose.append(f"{path}: accepts unknown keys")
    assert loose == []


def _leaves(node: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(node, dict) and node:
        return [leaf for key, value in node.items() for leaf in _leaves(value, (*path, key))]
    return [path]


def test_every_value_in_values_yaml_is_in_the_schema() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for leaf in _leaves(values):
        node = SCHEMA
        for key in leaf:
            # A probe is an object or null: follow the object.
            node = next((b for b in node.get("oneOf", []) if b["type"] == "object"), node)
            if node.get("type") == "object" and "properties" not in node:
                break  # a map or a Kubernetes object: its keys are the user's
            node = node["properties"][key] if key in node.get("properties", {}) else None
            assert node is not None, ".".join(leaf)


# Temporal Cloud style: TLS with an API key; plus mTLS with a private CA.
TEMPORAL_TLS = {
    "temporal": {
        "address": "gantral.acct.tmprl.cloud:7233",
        "namespace": "gantral.acct",
        "tls": {
            "enabled": True,
            "serverName": "gantral.acct.tmprl.cloud",
            "existingSecret": "gantral-temporal-tls",
            "caCertKey": "ca.crt",
        },
        "apiKey": {"existingSecret": "gantral-temporal-api-key"},
    }
}
TLS_FILES = {
    ("gantral-temporal-tls", "tls.crt"): "--client cert--",
    ("gantral-temporal-tls", "tls.key"): "--client key--",
    ("gantral-temporal-tls", "ca.crt"): "--private ca--",
    ("gantral-temporal-api-key", "api-key"): "tmprl-api-key-value",
}


def _mounted(pod: dict[str, Any], path: str) -> tuple[str, str]:
    return secret_file_of(pod, {"value": f"file:{path}"})


def _temporal_settings(objects: dict, component: str, tmp_path: Path) -> Any:
    """The settings the component's process loads, every TLS file and the API key read
    from where the pod mounts them (checked), written under tmp_path."""
    pod = deployment_pod(objects, component)
    (container,) = pod["containers"]
    env = {
        name: value
        for name, value in objects[("ConfigMap", "gantral-config")]["data"].items()
        if name.startswith("GANTRAL_TEMPORAL__")
    }
    for name, item in container_env(container).items():
        if name.startswith("GANTRAL_TEMPORAL__"):
            env[name] = item["value"]

    def local(secret: str, key: str) -> str:
        target = tmp_path / component / secret / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(TLS_FILES[(secret, key)])
        return str(target)

    for name, value in env.items():
        if name.startswith("GANTRAL_TEMPORAL__TLS__") and value.startswith("/"):
            env[name] = local(*_mounted(pod, value))
        elif value.startswith("file:"):
            env[name] = "file:" + local(*_mounted(pod, value.removeprefix("file:")))
    return resolve_secrets(settings_from(env))


@pytest.mark.parametrize("component", ["api", "worker", "sink", "channels", "callbacks"])
def test_every_process_connects_to_temporal_with_the_tls_and_api_key_values(
    component: str, tmp_path: Path
) -> None:
    objects = objects_of(merge_values(WITH_EXTRAS, TEMPORAL_TLS))
    settings = _temporal_settings(objects, component, tmp_path)
    assert settings.temporal.address == "gantral.acct.tmprl.cloud:7233"
    assert settings.temporal.namespace == "gantral.acct"
    config = tls_config(settings.temporal.tls)
    assert isinstance(config, TLSConfig)
    assert config.domain == "gantral.acct.tmprl.cloud"
    assert config.server_root_ca_cert == b"--private ca--"
    assert config.client_cert == b"--client cert--"
    assert config.client_private_key == b"--client key--"
    assert api_key(settings) == "tmprl-api-key-value"
    # The key is a mounted file, never an environment value or in the ConfigMap.
    rendered = yaml.safe_dump(objects[("Deployment", f"gantral-{component}")])
    rendered += yaml.safe_dump(objects[("ConfigMap", "gantral-config")])
    assert "tmprl-api-key-value" not in rendered


def test_temporal_cloud_with_an_api_key_only_needs_no_tls_secret(tmp_path: Path) -> None:
    values = merge_values(
        PRODUCTION,
        {"temporal": {"tls": {"enabled": True}, "apiKey": {"existingSecret": "temporal-key"}}},
    )
    objects = objects_of(values)
    pod = deployment_pod(objects, "worker")
    assert [v["name"] for v in pod["volumes"] if v["name"].startswith("temporal")] == [
        "temporal-api-key"
    ]
    config = objects[("ConfigMap", "gantral-config")]["data"]
    assert config["GANTRAL_TEMPORAL__TLS__ENABLED"] == "true"
    assert not any(n.startswith("GANTRAL_TEMPORAL__TLS__CLIENT") for n in config)


def test_no_temporal_tls_by_default() -> None:
    objects = objects_of(PRODUCTION)
    config = objects[("ConfigMap", "gantral-config")]["data"]
    assert not [n for n in config if n.startswith("GANTRAL_TEMPORAL__TLS")]
    for component in ("api", "worker", "sink"):
        pod = deployment_pod(objects, component)
        assert not [v for v in pod["volumes"] if v["name"].startswith("temporal")]
        assert "GANTRAL_TEMPORAL__API_KEY" not in container_env(pod["containers"][0])


NO_CLIENT_KEY = {"clientKeyKey": ""}


@pytest.mark.parametrize(
    ("temporal", "message"),
    [
        ({"apiKey": {"existingSecret": "k"}}, "apiKey needs temporal.tls.enabled"),
        ({"tls": {"existingSecret": "t"}}, "temporal.tls.enabled is false"),
        ({"tls": {"enabled": True, "existingSecret": "t", "clientKeyKey": ""}}, "both"),
        (
            {"tls": {"enabled": True, "existingSecret": "t", "clientCertKey": ""} | NO_CLIENT_KEY},
            "names no key",
        ),
    ],
)
def test_temporal_values_the_processes_would_refuse_are_refused(
    temporal: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render_chart(merge_values(PRODUCTION, {"temporal": temporal}))


def test_monitors_are_off_by_default() -> None:
    kinds = {kind for kind, _ in objects_of(PRODUCTION)}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def _monitored(kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    key = "serviceMonitor" if kind == "ServiceMonitor" else "podMonitor"
    monitor = {"enabled": True, "labels": {"release": "kube-prometheus"}, "interval": "30s"}
    return objects_of(merge_values(PRODUCTION, {"metrics": {key: monitor}}))


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_pod_monitors_scrape_each_process_on_its_metrics_port() -> None:
    objects = _monitored("PodMonitor")
    for component, port in (("api", "http"), ("worker", "metrics"), ("sink", "metrics")):
        monitor = objects[("PodMonitor", f"gantral-{component}")]
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint == {"port": port, "path": "/metrics", "interval": "30s"}
        pod = objects[("Deployment", f"gantral-{component}")]["spec"]["template"]
        assert _selects(monitor["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"])
        ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
        assert port in ports
        # Only its own process: no other Deployment's pods match.
        others = [
            name
            for (kind, name), obj in objects.items()
            if kind == "Deployment"
            and name != f"gantral-{component}"
            and _selects(
                monitor["spec"]["selector"]["matchLabels"],
                obj["spec"]["template"]["metadata"]["labels"],
            )
        ]
        assert others == []


def test_service_monitors_find_a_service_that_reaches_the_metrics_port() -> None:
    objects = _monitored("ServiceMonitor")
    services = {name: obj for (kind, name), obj in objects.items() if kind == "Service"}
    for component, port in (("api", "http"), ("worker", "metrics"), ("sink", "metrics")):
        monitor = objects[("ServiceMonitor", f"gantral-{component}")]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == port and endpoint["path"] == "/metrics"
        selector = monitor["spec"]["selector"]["matchLabels"]
        (service,) = [s for s in services.values() if _selects(selector, s["metadata"]["labels"])]
        (service_port,) = [p for p in service["spec"]["ports"] if p["name"] == port]
        pod = objects[("Deployment", f"gantral-{component}")]["spec"]["template"]
        assert _selects(service["spec"]["selector"], pod["metadata"]["labels"])
        container_ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
        assert service_port["targetPort"] in container_ports


@pytest.mark.parametrize("component", ["channels", "callbacks"])
@pytest.mark.parametrize("kind", ["PodMonitor", "ServiceMonitor"])
def test_the_enabled_relay_and_callback_worker_are_monitored_on_their_metrics_port(
    kind: str, component: str
) -> None:
    key = "serviceMonitor" if kind == "ServiceMonitor" else "podMonitor"
    enabled = {
        "channels": {"enabled": True, "slack": {"existingSecret": "gantral-slack"}},
        "callbacks": {
            "enabled": True,
            "existingSecret": "gantral-callbacks",
            "allowedUrlPrefixes": ["https://hooks.example.com/"],
        },
    }[component]
    values = {"metrics": {key: {"enabled": True}}, component: enabled}
    objects = objects_of(merge_values(PRODUCTION, values))
    monitor = objects[(kind, f"gantral-{component}")]
    endpoints = monitor["spec"]["endpoints" if key == "serviceMonitor" else "podMetricsEndpoints"]
    assert [e["port"] for e in endpoints] == ["metrics"]
    pod = objects[("Deployment", f"gantral-{component}")]["spec"]["template"]
    assert "metrics" in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    if key == "serviceMonitor":
        service = objects[("Service", f"gantral-{component}-metrics")]
        assert _selects(service["spec"]["selector"], pod["metadata"]["labels"])
    # Off: no monitor for a process that does not run.
    assert (kind, f"gantral-{component}") not in _monitored(kind)

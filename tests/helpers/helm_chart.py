"""The Helm chart rendered with production values (and with the optional extras on), and
ways to read its objects: for the chart's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gantral.audit.checkpoint import generate_key_pem

helm = pytest.importorskip("helm_python", reason="helm-python-sdk not installed")

CHART = Path(__file__).resolve().parents[2] / "helm" / "gantral"

PUBLIC_PEM = generate_key_pem()[1]
# The API's attestation key pair: the private half goes to a Secret, the public to values.
ATTESTATION_PRIVATE_PEM, ATTESTATION_PUBLIC_PEM = generate_key_pem()

PRODUCTION: dict[str, Any] = {
    "database": {
        "writer": {"existingSecret": "gantral-db-writer"},
        "reader": {"existingSecret": "gantral-db-reader"},
        "registry": {"existingSecret": "gantral-db-registry"},
    },
    "audit": {
        "signingKey": {"existingSecret": "gantral-audit-signing-key"},
        "publicKeys": [PUBLIC_PEM],
        "origin": "gantral-audit-eu-central-1",
    },
    "attestation": {
        "signingKey": {"existingSecret": "gantral-attestation-key"},
        "publicKeys": [ATTESTATION_PUBLIC_PEM],
    },
    "identity": {"issuer": "https://login.example.com/realms/gantral"},
    "s3": {"writer": {"existingSecret": "gantral-s3-writer"}},
    "api": {"ingress": {"enabled": True, "className": "nginx"}},
    "migrations": {"enabled": True, "existingSecret": "gantral-db-owner"},
    "workflowTemplates": {"files": {"deploy.yaml": "kind: gantral/workflow\nid: deploy\n"}},
    "extraConfig": {"GANTRAL_IDENTITY__LEEWAY_SECONDS": "10"},
}


def render_chart(values: dict[str, Any]) -> dict[str, str]:
    chart = helm.Chart.load(CHART)
    return chart.render(values, name="gantral", namespace="gantral", is_install=True)


def deployment_pod(objects: dict[tuple[str, str], dict[str, Any]], name: str) -> dict[str, Any]:
    return objects[("Deployment", f"gantral-{name}")]["spec"]["template"]["spec"]


def container_env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge_values(base[key], value)
        else:
            merged[key] = value
    return merged


def secret_file_of(pod: dict[str, Any], env: dict[str, Any]) -> tuple[str, str]:
    """(Secret, key) behind an env value `file:<path>`: the path must be a key of a Secret
    mounted read-only in the pod."""
    assert "valueFrom" not in env, "credentials go in as files, not environment values"
    path = env["value"].removeprefix("file:")
    assert path != env["value"], env
    (container,) = pod["containers"]
    for mount in container["volumeMounts"]:
        if path.startswith(mount["mountPath"] + "/"):
            assert mount.get("readOnly") is True, mount
            volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
            key = path.removeprefix(mount["mountPath"] + "/")
            assert key in [item["path"] for item in volume["secret"]["items"]]
            return volume["secret"]["secretName"], key
    raise AssertionError(f"{path} is not in a mounted Secret")


# The channel relay (Slack and Jira) and the callback worker, enabled.
WITH_EXTRAS = merge_values(
    PRODUCTION,
    {
        "channels": {
            "enabled": True,
            "slack": {"existingSecret": "gantral-slack"},
            "jira": {"existingSecret": "gantral-jira"},
        },
        "callbacks": {
            "enabled": True,
            "existingSecret": "gantral-callbacks",
            "allowedUrlPrefixes": ["https://hooks.example.com/gantral/"],
        },
        "extraConfig": {
            "GANTRAL_IDENTITY__LEEWAY_SECONDS": "10",
            "GANTRAL_JIRA__BASE_URL": "https://example.atlassian.net",
            "GANTRAL_SLACK__DEFAULT_CHANNEL": "C0456ALL",
        },
    },
)


EXTRA_FILES = {
    ("gantral-db-reader", "url"): "postgresql://gantral_api:pw@db:5432/gantral",
    ("gantral-db-registry", "url"): "postgresql://gantral_registry:pw@db:5432/gantral",
    ("gantral-slack", "signing-secret"): "slack-signing-secret",
    ("gantral-slack", "bot-token"): "xoxb-bot-token",
    ("gantral-jira", "api-token"): "jira-api-token",
    ("gantral-jira", "webhook-secret"): "jira-webhook-secret",
    ("gantral-callbacks", "secret"): "whsec_" + "A" * 44,
}


def objects_of(values: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (doc["kind"], doc["metadata"]["name"]): doc
        for path, text in render_chart(values).items()
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    }

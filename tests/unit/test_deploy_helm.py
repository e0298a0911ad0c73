"""The Helm chart, checked without a helm binary: metadata, values, template structure,
least-privilege wiring, and that every `GANTRAL_*` name it sets is a real setting."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.deploy_settings import gantral_env_names

CHART = Path(__file__).resolve().parents[2] / "helm" / "gantral"
TEMPLATES = CHART / "templates"
COMPONENTS = ("api", "worker", "sink")

ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}", re.S)
OPENERS = ("if", "range", "with", "define", "block")


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def _templates() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(TEMPLATES.iterdir()) if p.is_file()}


def _manifests() -> dict[str, str]:
    return {n: t for n, t in _templates().items() if n.endswith(".yaml")}


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "gantral"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert chart["appVersion"]


def test_chart_has_every_object() -> None:
    names = set(_templates())
    for name in (
        "_helpers.tpl",
        "NOTES.txt",
        "configmap.yaml",
        "serviceaccounts.yaml",
        "api-deployment.yaml",
        "api-service.yaml",
        "api-ingress.yaml",
        "worker-deployment.yaml",
        "sink-deployment.yaml",
        "channels-deployment.yaml",
        "callbacks-deployment.yaml",
        "networkpolicy.yaml",
        "pdb.yaml",
    ):
        assert name in names, name
    kinds = " ".join(_manifests().values())
    for kind in (
        "Deployment",
        "Service",
        "Ingress",
        "ConfigMap",
        "ServiceAccount",
        "NetworkPolicy",
        "PodDisruptionBudget",
    ):
        assert f"kind: {kind}\n" in kinds, kind


@pytest.mark.parametrize("name", sorted(_templates()))
def test_template_actions_are_balanced(name: str) -> None:
    text = _templates()[name]
    assert text.count("{{") == text.count("}}"), "unbalanced delimiters"
    depth = 0
    for action in ACTION.findall(text):
        if action.startswith("/*"):
            assert action.endswith("*/"), f"unterminated comment: {action[:40]}"
            continue
        word = action.split(maxsplit=1)[0] if action else ""
        if word in OPENERS:
            depth += 1
        elif word == "end":
            depth -= 1
            assert depth >= 0, "`end` without an opening block"
    assert depth == 0, "a block is not closed"


def test_every_included_template_is_defined() -> None:
    text = "\n".join(_templates().values())
    defined = set(re.findall(r'{{-?\s*define\s+"([^"]+)"', text))
    used = set(re.findall(r'(?:include|template)\s+"([^"]+)"', text))
    assert used - defined == set()


def _has_path(values: dict[str, Any], path: list[str]) -> bool:
    node: Any = values
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def test_every_values_reference_exists_in_values_yaml(values: dict[str, Any]) -> None:
    text = "\n".join(_templates().values())
    references = set(re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", text))
    assert references
    missing = sorted(r for r in references if not _has_path(values, r.strip(".").split(".")))
    assert missing == []


def test_every_gantral_variable_in_templates_is_a_real_setting(values: dict[str, Any]) -> None:
    known = gantral_env_names()
    found = set()
    for text in _templates().values():
        found |= set(re.findall(r"\bGANTRAL_[A-Z0-9_]+", text))
    found |= {k for k in values["extraConfig"] if k.startswith("GANTRAL_")}
    assert "GANTRAL_TEMPORAL__ADDRESS" in found
    assert sorted(found - known) == []


def test_pods_run_unprivileged(values: dict[str, Any]) -> None:
    pod = values["podSecurityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] != 0
    container = values["securityContext"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    deployments = [n for n in _templates() if n.endswith("-deployment.yaml")]
    assert len(deployments) == 5
    for name in deployments:
        text = _templates()[name]
        assert "toYaml .Values.securityContext" in text, name
        assert 'include "gantral.podCommon"' in text, name
        assert "mountPath: /tmp" in text, name  # writable scratch under a read-only root
    assert "automountServiceAccountToken: false" in _templates()["_helpers.tpl"]


def test_values_configure_every_component(values: dict[str, Any]) -> None:
    for component in COMPONENTS:
        section = values[component]
        assert isinstance(section["replicas"], int) and section["replicas"] >= 1
        assert section["resources"]["requests"]
        assert section["serviceAccount"]["create"] is True
        assert "enabled" in section["pdb"]
    assert values["temporal"]["address"] and values["temporal"]["namespace"]
    assert values["identity"]["audience"]
    # The channel relay and the callback worker: off until enabled, named Secrets only.
    for optional in ("channels", "callbacks"):
        assert values[optional]["enabled"] is False
        assert values[optional]["serviceAccount"]["create"] is True
    assert values["callbacks"]["allowedUrlPrefixes"] == []
    assert values["profile"] == "production"
    assert values["identity"]["devIssuerEnabled"] is False
    assert values["api"]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert values["api"]["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_only_the_sink_gets_the_writer_credentials_and_the_signing_key() -> None:
    templates = _templates()
    sink = templates["sink-deployment.yaml"]
    assert ".Values.database.writer.existingSecret" in sink
    assert ".Values.audit.signingKey.existingSecret" in sink
    assert "GANTRAL_DATABASE__URL" in sink
    assert "GANTRAL_AUDIT__SIGNING_KEY" in sink
    assert "database.reader" not in sink and "database.registry" not in sink
    assert "REGISTRY_URL" not in sink
    api = templates["api-deployment.yaml"]
    assert ".Values.database.reader.existingSecret" in api
    assert "GANTRAL_DATABASE__READER_URL" in api
    assert ".Values.database.registry" in api
    assert "GANTRAL_DATABASE__REGISTRY_URL" in api
    worker = templates["worker-deployment.yaml"]
    assert "database." not in worker and "s3." not in worker
    for name, text in templates.items():
        if name in ("sink-deployment.yaml", "_helpers.tpl", "NOTES.txt"):
            continue
        assert "audit.signingKey" not in text, name
        assert "GANTRAL_AUDIT__SIGNING_KEY" not in text, name
        if name != "migrations-job.yaml":  # the owner's URI, in a pre-install hook only
            assert "database.writer" not in text, name
            assert "GANTRAL_DATABASE__URL" not in text, name
    # Secrets are referenced, never put in the shared ConfigMap.
    config = templates["configmap.yaml"]
    for word in ("existingSecret", "DATABASE", "ACCESS_KEY", "SECRET_ACCESS", "SIGNING_KEY"):
        assert word not in config, word
    assert "serviceAccountName" in templates["_helpers.tpl"]


def test_only_the_api_gets_the_attestation_key_and_worker_and_sink_its_public_half(
    values: dict[str, Any],
) -> None:
    templates = _templates()
    api = templates["api-deployment.yaml"]
    assert ".Values.attestation.signingKey.existingSecret" in api
    assert "GANTRAL_ATTESTATION__SIGNING_KEY" in api
    assert 'include "gantral.attestationKeyDir"' in api
    for name, text in templates.items():
        if name in ("api-deployment.yaml", "_helpers.tpl", "NOTES.txt"):
            continue
        assert "attestation.signingKey" not in text, name
        assert "GANTRAL_ATTESTATION__SIGNING_KEY" not in text, name
    for name in ("worker-deployment.yaml", "sink-deployment.yaml"):
        assert 'include "gantral.attestationPublicKeysEnv"' in templates[name], name
    assert "gantral.attestationPublicKeysEnv" not in api
    helpers = templates["_helpers.tpl"]
    assert "GANTRAL_ATTESTATION__PUBLIC_KEYS" in helpers
    assert ".Values.attestation.publicKeys" in helpers
    # Empty by default: a release must name its own key, never ship one.
    assert values["attestation"]["signingKey"]["existingSecret"] == ""
    assert values["attestation"]["publicKeys"] == []


SECRET_KEY_NAMES = re.compile(r"(password|passwd|secret|token|credential|private)", re.I)
SECRET_VALUES = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # credentials inside a URL
    re.compile(r"^[A-Za-z0-9+/_=-]{32,}$"),  # a long opaque token
)


def _leaves(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, node)]


def _secret_findings(values: dict[str, Any]) -> list[str]:
    findings = []
    for path, value in _leaves(values):
        if not isinstance(value, str) or not value:
            continue
        if any(pattern.search(value) for pattern in SECRET_VALUES):
            findings.append(f"{path} looks like a secret")
        key = path.rsplit(".", 1)[-1]
        # Names of Secret keys (`key`, `accessKeyIdKey`, ...) are fine; values are not.
        if SECRET_KEY_NAMES.search(key) and not key.endswith("Key"):
            findings.append(f"{path} holds a literal for a secret-looking key")
    return findings


def test_values_hold_no_secret_looking_literals(values: dict[str, Any]) -> None:
    assert _secret_findings(values) == []
    # Credentials are only ever named as existing Secrets, empty by default.
    secrets = [(p, v) for p, v in _leaves(values) if p.endswith(".existingSecret")]
    assert len(secrets) >= 8
    assert all(v == "" for _, v in secrets)


@pytest.mark.parametrize(
    "bad",
    [
        {"database": {"password": "hunter2"}},
        {"database": {"writer": {"url": "postgresql://gantral:hunter2@db:5432/gantral"}}},
        {"s3": {"id": "AKIAABCDEFGHIJKLMNOP"}},
        {"audit": {"pem": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n"}},
        {"identity": {"clientToken": "0123456789abcdefABCDEF0123456789abcdef"}},
    ],
)
def test_the_secret_scan_catches_secrets(bad: dict[str, Any]) -> None:
    assert _secret_findings(bad)

"""The alert rules and the Grafana dashboard shipped in the Helm chart: well formed, every
expression names only metrics Gantral's processes export (the Temporal SDK's are checked
against a real scrape in tests/integration/test_rolling_restart.py), the alerts the
operators need are there, and the chart renders both."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from gantral.api.metrics import ApiMetrics
from gantral.observability.metrics import CallbackMetrics, ChannelMetrics, GantralMetrics
from tests.helpers.metrics import TEMPORAL_SDK_METRICS
from tests.helpers.tools import required_tool

FILES = Path(__file__).resolve().parents[2] / "helm" / "gantral" / "files"
RULES = FILES / "prometheus-rules.yaml"
DASHBOARD = FILES / "grafana-dashboard.json"
_FUNCTIONS_AND_KEYWORDS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "irate", "histogram_quantile",
    "by", "without", "and", "or", "unless", "on", "ignoring", "bool", "offset", "le",
}  # fmt: skip


def exported() -> set[str]:
    """Every sample name Gantral's registries can export."""
    names: set[str] = set()
    registries: list[CollectorRegistry] = [
        GantralMetrics().registry,
        ApiMetrics().registry,
        ChannelMetrics().registry,
        CallbackMetrics().registry,
    ]
    for registry in registries:
        for family in registry.collect():
            suffixes = {
                "counter": ["_total", "_created"],
                "histogram": ["_bucket", "_sum", "_count", "_created"],
                "gauge": [""],
            }[family.type]
            names |= {family.name + suffix for suffix in suffixes}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression (label matchers and groupings removed)."""
    bare = re.sub(r"\{[^}]*\}", "", expr)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    found = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare))
    return {name for name in found if name not in _FUNCTIONS_AND_KEYWORDS}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def test_every_rule_is_complete_and_names_only_exported_metrics() -> None:
    known = exported()
    for rule in rules():
        assert rule["alert"].startswith("Gantral")
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= known, (rule["alert"], names - known)


def test_the_alerts_cover_what_operators_must_know() -> None:
    by_metric = {name: rule["alert"] for rule in rules() for name in metric_names(rule["expr"])}
    for metric in (
        "gantral_oldest_open_request_seconds",  # a waiting-for-human SLA at risk
        "gantral_sink_lag_seconds_bucket",  # sink lag
        "gantral_checkpoint_age_seconds",  # a checkpoint too old
        "gantral_verification_failures_total",  # any verification failure
        "gantral_attestation_refusals_total",  # refused for an attestation failure
        "gantral_channel_undeliverable_total",  # a request a channel could not deliver
        "gantral_callback_dead_letters_total",  # a callback given up: its agent not woken
    ):
        assert metric in by_metric, metric


def test_the_dashboard_names_only_exported_metrics() -> None:
    known = exported() | TEMPORAL_SDK_METRICS
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    used = set().union(*(metric_names(expr) for expr in exprs))
    assert used <= known, used - known
    # Every Gantral metric family is on the dashboard somewhere.
    families = {re.sub(r"_(total|bucket|sum|count|created)$", "", n) for n in exported()}
    shown = {re.sub(r"_(total|bucket|sum|count|created)$", "", n) for n in used}
    assert families - shown == set()


def test_the_expression_parser_sees_every_metric() -> None:
    expr = 'histogram_quantile(0.95, sum by (le) (rate(a_bucket{x="y"}[5m]))) > 1 and max(b) > 0'
    assert metric_names(expr) == {"a_bucket", "b"}


def test_promtool_accepts_the_rules() -> None:
    promtool = required_tool("promtool")
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_chart_ships_the_dashboard_and_the_rules() -> None:
    helm = pytest.importorskip("helm_python", reason="helm-python-sdk not installed")
    from tests.helpers.helm_chart import CHART, PRODUCTION, merge_values

    values = merge_values(PRODUCTION, {"metrics": {"prometheusRule": {"enabled": True}}})
    rendered = helm.Chart.load(CHART).render(
        values, name="gantral", namespace="gantral", is_install=True
    )
    docs = [
        doc
        for path, text in rendered.items()
        if path.endswith("observability.yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    kinds = {doc["kind"]: doc for doc in docs}
    board = json.loads(kinds["ConfigMap"]["data"]["gantral.json"])
    assert board == json.loads(DASHBOARD.read_text())
    assert kinds["ConfigMap"]["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert kinds["PrometheusRule"]["spec"] == yaml.safe_load(RULES.read_text())

"""The chart's payload-codec values (`temporal.codec`): every process that connects to
Temporal gets the same keys, by reference to a mounted Secret, and builds the same codec;
values the processes would refuse are refused at render time."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from gantral.startup import resolve_secrets
from gantral.temporal_codec import KEY_ID, AesGcmCodec, codec_from, converter_with
from tests.helpers.deploy_settings import settings_from
from tests.helpers.helm_chart import (
    PRODUCTION,
    WITH_EXTRAS,
    deployment_pod,
    merge_values,
    objects_of,
    render_chart,
    secret_file_of,
)

helm = pytest.importorskip("helm_python", reason="helm-python-sdk not installed")

KEYS = {"2026-06": os.urandom(32), "2026-12": os.urandom(32)}
CODEC = {
    "temporal": {
        "codec": {
            "enabled": True,
            "existingSecret": "gantral-temporal-codec",
            "keyIds": ["2026-12", "2026-06"],
            "currentKeyId": "2026-12",
            "corsOrigins": ["https://temporal-ui.example.com"],
        }
    }
}


def _codec_settings(objects: dict, component: str, tmp_path: Path) -> Any:
    """The component's settings with each codec key read from where its pod mounts it."""
    pod = deployment_pod(objects, component)
    config = objects[("ConfigMap", "gantral-config")]["data"]
    env = {n: v for n, v in config.items() if n.startswith("GANTRAL_TEMPORAL__CODEC__")}
    keys = json.loads(env["GANTRAL_TEMPORAL__CODEC__KEYS"])
    for key_id, reference in keys.items():
        secret, entry = secret_file_of(pod, {"value": reference})
        assert (secret, entry) == ("gantral-temporal-codec", key_id)
        local = tmp_path / component / key_id
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(base64.b64encode(KEYS[key_id]).decode() + "\n")
        keys[key_id] = f"file:{local}"
    env["GANTRAL_TEMPORAL__CODEC__KEYS"] = json.dumps(keys)
    return resolve_secrets(settings_from(env))


@pytest.mark.parametrize("component", ["api", "worker", "sink", "channels", "callbacks"])
def test_every_process_encrypts_with_the_current_key_and_reads_every_listed_one(
    component: str, tmp_path: Path
) -> None:
    objects = objects_of(merge_values(WITH_EXTRAS, CODEC))
    codec = codec_from(_codec_settings(objects, component, tmp_path))
    assert codec is not None
    assert codec.current == "2026-12" and codec.key_ids == ["2026-06", "2026-12"]
    # The API lets the Temporal Web UI call its codec server from the browser.
    settings = _codec_settings(objects, component, tmp_path)
    assert settings.temporal.codec.cors_origins == ["https://temporal-ui.example.com"]
    [payload] = asyncio.run(converter_with(codec).encode(["arguments"]))
    assert payload.metadata[KEY_ID] == b"2026-12"
    # A payload written under the older key still reads.
    older = AesGcmCodec({"2026-06": KEYS["2026-06"]}, "2026-06")
    [old] = asyncio.run(converter_with(older).encode(["before the rotation"]))
    assert asyncio.run(converter_with(codec).decode([old], [str])) == ["before the rotation"]
    # The keys are mounted files only: never in the ConfigMap or the Deployment.
    rendered = yaml.safe_dump(objects[("Deployment", f"gantral-{component}")])
    rendered += yaml.safe_dump(objects[("ConfigMap", "gantral-config")])
    for key in KEYS.values():
        assert base64.b64encode(key).decode() not in rendered


def test_a_single_key_is_current_without_naming_it(tmp_path: Path) -> None:
    single = {"temporal": {"codec": CODEC["temporal"]["codec"] | {"keyIds": ["2026-06"]}}}
    single["temporal"]["codec"]["currentKeyId"] = ""
    objects = objects_of(merge_values(PRODUCTION, single))
    codec = codec_from(_codec_settings(objects, "worker", tmp_path))
    assert codec is not None and codec.current == "2026-06"


def test_off_by_default() -> None:
    objects = objects_of(PRODUCTION)
    config = objects[("ConfigMap", "gantral-config")]["data"]
    assert not [n for n in config if n.startswith("GANTRAL_TEMPORAL__CODEC")]
    for component in ("api", "worker", "sink"):
        volumes = deployment_pod(objects, component)["volumes"]
        assert "temporal-codec" not in [v["name"] for v in volumes]


@pytest.mark.parametrize(
    ("codec", "message"),
    [
        ({"enabled": True, "keyIds": ["a"]}, "needs temporal.codec.existingSecret"),
        ({"enabled": True, "existingSecret": "s"}, "needs temporal.codec.keyIds"),
        (
            {"enabled": True, "existingSecret": "s", "keyIds": ["a"], "currentKeyId": "b"},
            "must be one of temporal.codec.keyIds",
        ),
        (
            {"enabled": True, "existingSecret": "s", "keyIds": ["a", "b"]},
            "must name the encrypting key",
        ),
    ],
)
def test_codec_values_the_processes_would_refuse_are_refused(
    codec: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render_chart(merge_values(PRODUCTION, {"temporal": {"codec": codec}}))


@pytest.mark.parametrize(
    ("codec", "where"),
    [
        ({"enable": True}, "'enable' not allowed"),
        ({"keyIds": ["has space"]}, "/temporal/codec/keyIds/0"),
        ({"keyIds": "k1"}, "/temporal/codec/keyIds"),
        ({"corsOrigins": ["https://ui.example.com/path"]}, "/temporal/codec/corsOrigins/0"),
    ],
)
def test_a_codec_values_typo_fails_rendering(codec: dict[str, Any], where: str) -> None:
    with pytest.raises(helm.HelmValuesError, match="schema") as refused:
        render_chart(merge_values(PRODUCTION, {"temporal": {"codec": codec}}))
    assert where in str(refused.value)

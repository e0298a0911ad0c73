"""The `GANTRAL_*` names deployment files may set, derived from the one settings tree.

`Settings` ignores unknown variables (`extra="ignore"`), so a misspelt name in a compose
file or a Helm template would silently fall back to a default; the deploy tests check every
name they find against this list instead.
"""

from __future__ import annotations

from gantral.settings import Settings
from tests.helpers.deploy_settings import gantral_env_names


def test_known_settings_are_derived() -> None:
    names = gantral_env_names()
    for name in (
        "GANTRAL_PROFILE",
        "GANTRAL_TEMPORAL__ADDRESS",
        "GANTRAL_TEMPORAL__NAMESPACE",
        "GANTRAL_DATABASE__URL",
        "GANTRAL_DATABASE__READER_URL",
        "GANTRAL_S3__ENDPOINT_URL",
        "GANTRAL_S3__RETENTION_DAYS",
        "GANTRAL_AUDIT__SIGNING_KEY",
        "GANTRAL_API__PORT",
        "GANTRAL_IDENTITY__ISSUER",
        "GANTRAL_IDENTITY__AUDIENCE",
        "GANTRAL_IDENTITY__DEV_ISSUER__ENABLED",
    ):
        assert name in names
    assert "GANTRAL_TEMPORAL__ADRESS" not in names
    assert "GANTRAL_DATABASE__PASSWORD" not in names


def test_derived_names_are_read_by_settings(monkeypatch) -> None:
    # A round trip through pydantic-settings proves the naming scheme, not just the walk.
    monkeypatch.setenv("GANTRAL_TEMPORAL__ADDRESS", "temporal.example:7233")
    monkeypatch.setenv("GANTRAL_S3__RETENTION_DAYS", "3")
    settings = Settings(_env_file=None)
    assert settings.temporal.address == "temporal.example:7233"
    assert settings.s3.retention_days == 3

"""Identity settings are part of the one settings tree, and production refuses unsafe ones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gantral.settings import Profile, Settings

SAFE = {
    "GANTRAL_PROFILE": "production",
    "GANTRAL_IDENTITY__ISSUER": "https://sso.acme.example/realms/acme",
    "GANTRAL_IDENTITY__AUDIENCE": "gantral-api",
    "GANTRAL_IDENTITY__DEV_ISSUER__ENABLED": "false",
}


def settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_identity_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = settings(
        monkeypatch, {**SAFE, "GANTRAL_IDENTITY__CLAIMS__ROLES": "realm_access.roles"}
    )
    assert loaded.profile is Profile.PRODUCTION
    assert loaded.identity.issuer == SAFE["GANTRAL_IDENTITY__ISSUER"]
    assert loaded.identity.audience == "gantral-api"
    assert loaded.identity.claims.roles == "realm_access.roles"
    assert not loaded.identity.dev_issuer.enabled


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"GANTRAL_IDENTITY__DEV_ISSUER__ENABLED": "true"}, "DEV_ISSUER__ENABLED"),
        ({"GANTRAL_IDENTITY__ISSUER": "http://127.0.0.1:8600"}, "not the dev issuer"),
        ({"GANTRAL_IDENTITY__ISSUER": "http://sso.acme.example"}, "must use https"),
        ({"GANTRAL_IDENTITY__JWKS_URL": "http://sso.acme.example/jwks"}, "JWKS_URL"),
    ],
)
def test_production_refuses_unsafe_identity(
    monkeypatch: pytest.MonkeyPatch, override: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        settings(monkeypatch, {**SAFE, **override})


def test_development_defaults_trust_the_dev_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = settings(monkeypatch, {"GANTRAL_PROFILE": "development"})
    assert loaded.identity.issuer == loaded.identity.dev_issuer.url
    assert "dev_identity_headers" not in Settings.model_fields

"""Who verifies holds only public keys; who signs may not sign with a throwaway key
outside development."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from gantral.audit.checkpoint import generate_key_pem, key_id, load_verification_keys
from gantral.audit.service import SigningKeyError, signing_key
from gantral.settings import AuditSettings, Profile, Settings
from gantral.settings.identity import DevIssuerSettings, IdentitySettings


def test_verification_keys_are_public_only(tmp_path: Path) -> None:
    private, public = generate_key_pem()
    (tmp_path / "k.pem").write_text(private)
    (tmp_path / "k.pub").write_text(public)
    [from_pem] = load_verification_keys([public])
    [from_file] = load_verification_keys([str(tmp_path / "k.pub")])
    assert key_id(from_pem) == key_id(from_file)
    for private_source in (private, str(tmp_path / "k.pem")):
        with pytest.raises(ValueError, match="not a private key"):
            load_verification_keys([private_source])
    with pytest.raises(OSError):
        load_verification_keys([str(tmp_path / "missing.pub")])


def _settings(profile: Profile, key: str = "") -> Settings:
    identity = IdentitySettings(
        issuer="https://idp.example", dev_issuer=DevIssuerSettings(enabled=False)
    )
    return Settings(
        _env_file=None,
        profile=profile,
        identity=identity,
        audit=AuditSettings(signing_key=SecretStr(key)),
    )


def test_an_ephemeral_signing_key_is_refused_outside_development() -> None:
    with pytest.raises(SigningKeyError, match="required under the production profile"):
        signing_key(_settings(Profile.PRODUCTION))
    assert signing_key(_settings(Profile.DEVELOPMENT)) is not None
    private, _ = generate_key_pem()
    assert signing_key(_settings(Profile.PRODUCTION, private)) is not None


def test_an_unreadable_signing_key_is_a_clear_error_without_its_value() -> None:
    with pytest.raises(SigningKeyError) as refused:
        signing_key(_settings(Profile.PRODUCTION, "not-a-key-S3cret"))
    assert "GANTRAL_AUDIT__SIGNING_KEY is not a readable Ed25519 private key" in str(refused.value)
    assert "S3cret" not in str(refused.value)


def test_origin_and_public_keys_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GANTRAL_AUDIT__ORIGIN", "acme-prod-audit")
    monkeypatch.setenv("GANTRAL_AUDIT__PUBLIC_KEYS", '["/keys/a.pub", "/keys/b.pub"]')
    audit = Settings(_env_file=None).audit
    assert audit.origin == "acme-prod-audit"
    assert audit.public_keys == ["/keys/a.pub", "/keys/b.pub"]


def test_the_sink_refuses_to_start_in_production_without_a_signing_key(tmp_path: Path) -> None:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GANTRAL_PROFILE": "production",
        "GANTRAL_IDENTITY__ISSUER": "https://idp.example",
        "GANTRAL_IDENTITY__DEV_ISSUER__ENABLED": "false",
        "GANTRAL_DATABASE__URL": "postgresql://sink@127.0.0.1:9/gantral",
        "GANTRAL_TEMPORAL__ADDRESS": "127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gantral.workers.sink"],
        cwd=Path(__file__).parents[2],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "SigningKeyError" in output
    assert "an ephemeral checkpoint signing key is allowed only in development" in output

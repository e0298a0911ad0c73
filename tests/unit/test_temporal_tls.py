"""TLS to Temporal comes from settings alone (files mounted by the platform)."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from gantral.client import tls_config
from gantral.settings import Settings, TemporalTLS


def test_off_by_default() -> None:
    assert tls_config(Settings().temporal.tls) is False


def test_mutual_tls_from_files(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_bytes(f"--{name}--".encode())
    config = tls_config(
        TemporalTLS(
            enabled=True,
            server_ca_cert=tmp_path / "ca.pem",
            client_cert=tmp_path / "client.pem",
            client_key=tmp_path / "client.key",
            server_name="ns.tmprl.cloud",
        )
    )
    assert not isinstance(config, bool)
    assert config.server_root_ca_cert == b"--ca.pem--"
    assert config.client_cert == b"--client.pem--"
    assert config.client_private_key == b"--client.key--"
    assert config.domain == "ns.tmprl.cloud"


def test_system_roots_when_no_ca_is_given() -> None:
    config = tls_config(TemporalTLS(enabled=True))
    assert not isinstance(config, bool) and config.server_root_ca_cert is None


def test_a_client_cert_without_its_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="both client_cert and client_key"):
        TemporalTLS(enabled=True, client_cert=Path("c.pem"))


def test_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANTRAL_TEMPORAL__TLS__ENABLED", "true")
    monkeypatch.setenv("GANTRAL_TEMPORAL__TLS__SERVER_NAME", "temporal.internal")
    tls = Settings().temporal.tls
    assert tls.enabled and tls.server_name == "temporal.internal"

"""TLS to Temporal comes from settings alone (files mounted by the platform)."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.service import TLSConfig

from gantral import core as core_module
from gantral.core import api_key, connect_temporal, tls_config
from gantral.settings import Settings, TemporalTLS
from gantral.startup import resolve_secrets


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


def test_an_api_key_is_refused_without_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANTRAL_TEMPORAL__API_KEY", "tmprl-key")
    with pytest.raises(ValidationError, match=r"needs temporal\.tls\.enabled"):
        Settings()


def test_the_api_key_comes_from_a_mounted_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the Helm chart sets it: a `file:` reference to the Secret's mounted key."""
    key_file = tmp_path / "api-key"
    key_file.write_text("tmprl-secret-key\n")
    monkeypatch.setenv("GANTRAL_TEMPORAL__TLS__ENABLED", "true")
    monkeypatch.setenv("GANTRAL_TEMPORAL__API_KEY", f"file:{key_file}")
    settings = Settings()
    with pytest.raises(ValueError, match="unresolved secret reference"):
        api_key(settings)
    assert api_key(resolve_secrets(settings)) == "tmprl-secret-key"
    assert "tmprl-secret-key" not in repr(resolve_secrets(settings).temporal)


def test_no_api_key_by_default() -> None:
    assert api_key(Settings()) is None


async def test_every_process_connects_with_the_key_over_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """connect_temporal hands the key and the TLS config to Temporal's client."""
    seen: dict[str, object] = {}

    async def connect(address: str, **kwargs: object) -> None:
        seen.update(kwargs, address=address)

    monkeypatch.setattr(core_module.Client, "connect", connect)
    monkeypatch.setenv("GANTRAL_TEMPORAL__ADDRESS", "ns.acct.tmprl.cloud:7233")
    monkeypatch.setenv("GANTRAL_TEMPORAL__TLS__ENABLED", "true")
    monkeypatch.setenv("GANTRAL_TEMPORAL__API_KEY", "tmprl-key")
    await connect_temporal(Settings())
    assert seen["address"] == "ns.acct.tmprl.cloud:7233"
    assert seen["api_key"] == "tmprl-key"
    assert isinstance(seen["tls"], TLSConfig)

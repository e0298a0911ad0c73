"""Secret references (file:, vault:) and the log filter that masks secret values."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel, SecretStr

from gantral.errors import Forbidden, InvalidInput, NotFound, Unavailable
from gantral.identity.secrets import SecretMaskingFilter, SecretResolver, install_secret_masking
from gantral.settings.identity import VaultSettings

VAULT = VaultSettings(addr="https://vault.example.test:8200", token=SecretStr("hvs.vault-token"))
DB_PASSWORD = "pg-Pa55word!"


def vault_handler(request: httpx.Request) -> httpx.Response:
    if request.headers.get("X-Vault-Token") != "hvs.vault-token":
        return httpx.Response(403, json={"errors": ["permission denied"]})
    if request.url.path == "/v1/secret/data/gantral/db":
        body = {"data": {"data": {"password": DB_PASSWORD}, "metadata": {"version": 3}}}
        return httpx.Response(200, json=body)
    if request.url.path == "/v1/broken/data/x":
        return httpx.Response(500)
    return httpx.Response(404, json={"errors": []})


@pytest.fixture
def resolver() -> Iterator[SecretResolver]:
    with httpx.Client(transport=httpx.MockTransport(vault_handler)) as http:
        yield SecretResolver(VAULT, http)


def test_literal_values_pass_through(resolver: SecretResolver) -> None:
    assert resolver.resolve("plain").get_secret_value() == "plain"
    assert resolver.resolve(SecretStr("plain")).get_secret_value() == "plain"


def test_file_reference(resolver: SecretResolver, tmp_path: Path) -> None:
    (tmp_path / "db").write_text(DB_PASSWORD + "\n")
    assert resolver.resolve(f"file:{tmp_path / 'db'}").get_secret_value() == DB_PASSWORD


def test_missing_file_is_not_found(resolver: SecretResolver, tmp_path: Path) -> None:
    with pytest.raises(NotFound) as info:
        resolver.resolve(f"file:{tmp_path / 'absent'}")
    assert info.value.reason == "secret_file_not_found"


def test_vault_reference(resolver: SecretResolver) -> None:
    value = resolver.resolve(SecretStr("vault:secret/gantral/db#password"))
    assert value.get_secret_value() == DB_PASSWORD


@pytest.mark.parametrize(
    ("reference", "error", "reason"),
    [
        ("vault:secret/gantral/db#username", NotFound, "secret_not_found"),
        ("vault:secret/gantral/absent#password", NotFound, "secret_not_found"),
        ("vault:broken/x#k", Unavailable, "vault_unreachable"),
        ("vault:secret/gantral/db", InvalidInput, "invalid_secret_reference"),
        ("vault:secret#password", InvalidInput, "invalid_secret_reference"),
    ],
)
def test_vault_failures(
    resolver: SecretResolver, reference: str, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error) as info:
        resolver.resolve(reference)
    assert getattr(info.value, "reason", None) == reason
    assert DB_PASSWORD not in str(info.value)


def test_vault_denied_and_unconfigured(tmp_path: Path) -> None:
    wrong = VAULT.model_copy(update={"token": SecretStr("nope")})
    with (
        httpx.Client(transport=httpx.MockTransport(vault_handler)) as http,
        pytest.raises(Forbidden),
    ):
        SecretResolver(wrong, http).resolve("vault:secret/gantral/db#password")
    with pytest.raises(InvalidInput) as info:
        SecretResolver(VaultSettings()).resolve("vault:secret/gantral/db#password")
    assert info.value.reason == "vault_not_configured"


def test_vault_token_from_a_mounted_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("hvs.vault-token\n")
    vault = VAULT.model_copy(update={"token": SecretStr(f"file:{tmp_path / 'token'}")})
    with httpx.Client(transport=httpx.MockTransport(vault_handler)) as http:
        value = SecretResolver(vault, http).resolve("vault:secret/gantral/db#password")
    assert value.get_secret_value() == DB_PASSWORD


def test_vault_unreachable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        httpx.Client(transport=httpx.MockTransport(down)) as http,
        pytest.raises(Unavailable) as info,
    ):
        SecretResolver(VAULT, http).resolve("vault:secret/gantral/db#password")
    assert info.value.reason == "vault_unreachable"


class Database(BaseModel):
    url: SecretStr = SecretStr("")
    password: SecretStr = SecretStr("")
    host: str = "db"


class Root(BaseModel):
    database: Database = Database()
    api_key: SecretStr = SecretStr("")


def test_resolve_model_walks_nested_settings(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("api-key-123456")
    masking = SecretMaskingFilter()
    http = httpx.Client(transport=httpx.MockTransport(vault_handler))
    resolver = SecretResolver(VAULT, http, masker=masking)
    root = Root(
        database=Database(password=SecretStr("vault:secret/gantral/db#password")),
        api_key=SecretStr(f"file:{tmp_path / 'key'}"),
    )
    resolved = resolver.resolve_model(root)
    assert resolved.database.password.get_secret_value() == DB_PASSWORD
    assert resolved.database.url.get_secret_value() == ""
    assert resolved.api_key.get_secret_value() == "api-key-123456"
    assert root.api_key.get_secret_value().startswith("file:")  # the original is untouched
    assert masking.mask(f"x {DB_PASSWORD} api-key-123456") == "x *** ***"


# --- log masking ---------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, SecretMaskingFilter]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(detail)s"))
    logger = logging.getLogger("gantral.test.secrets")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    masking = install_secret_masking(SecretMaskingFilter(), logger)
    try:
        yield logger, stream, masking
    finally:
        logger.removeHandler(handler)


def test_log_filter_masks_every_known_secret(
    captured: tuple[logging.Logger, io.StringIO, SecretMaskingFilter],
) -> None:
    logger, stream, masking = captured
    masking.add(SecretStr(DB_PASSWORD))
    masking.add("postgresql://sink:s3cr%40t-pw@db:5432/gantral")
    masking.add("ab")  # too short to mask meaningfully
    child = logging.getLogger("gantral.test.secrets.child")
    logger.info("connecting with %s", DB_PASSWORD, extra={"detail": f"pw={DB_PASSWORD}"})
    child.warning("driver said: password s3cr@t-pw rejected", extra={"detail": "-"})
    try:
        raise RuntimeError(f"auth failed for s3cr%40t-pw and {DB_PASSWORD}")
    except RuntimeError:
        logger.exception("boom", extra={"detail": "ab"})
    output = stream.getvalue()
    for secret in (DB_PASSWORD, "s3cr@t-pw", "s3cr%40t-pw"):
        assert secret not in output
    assert "connecting with ***" in output
    assert "pw=***" in output
    assert "RuntimeError: auth failed for *** and ***" in output
    assert " ab" in output


def test_log_filter_without_secrets_changes_nothing(
    captured: tuple[logging.Logger, io.StringIO, SecretMaskingFilter],
) -> None:
    logger, stream, _ = captured
    logger.info("value %d", 42, extra={"detail": "d"})
    assert "value 42 d" in stream.getvalue()


def test_secret_str_repr_never_leaks() -> None:
    # Settings hold secrets as SecretStr, so logging a settings object is safe too.
    assert DB_PASSWORD not in repr(Database(password=SecretStr(DB_PASSWORD)))

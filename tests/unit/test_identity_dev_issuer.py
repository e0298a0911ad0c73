"""The development issuer: a real uvicorn server for the client-credentials flow, the
CLI, and its refusal to run under the production profile."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from typer.testing import CliRunner

from gantral.cli.identity import identity_app
from gantral.devstack.process import free_port
from gantral.errors import Forbidden
from gantral.identity.dev_issuer import create_dev_issuer_app
from gantral.identity.dev_keys import KEY_FILE, load_or_create_signing_key
from gantral.identity.permissions import Permission, check
from gantral.identity.principal import PrincipalKind
from gantral.identity.service import IdentityService
from gantral.identity.tokens import TokenValidator
from gantral.settings import Profile
from gantral.settings.identity import (
    DevClient,
    DevIssuerSettings,
    IdentitySettings,
    refuse_unsafe_production,
)

AGENT_SECRET = "agent-secret-3f9a1c"


def dev_settings(url: str, data_dir: Path) -> IdentitySettings:
    client = DevClient(
        client_id="invoice-bot",
        client_secret=SecretStr(AGENT_SECRET),
        roles=["operator"],
        teams=["payments"],
    )
    return IdentitySettings(
        issuer=url,
        audience="gantral",
        dev_issuer=DevIssuerSettings(url=url, data_dir=data_dir, clients=[client]),
    )


@dataclass
class Issuer:
    url: str
    settings: IdentitySettings


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = dev_settings(url, tmp_path / "dev-issuer")
    app = create_dev_issuer_app(settings, Profile.DEVELOPMENT)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "dev issuer did not start"
        time.sleep(0.02)
    try:
        yield Issuer(url=url, settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def test_client_credentials_token_validates_as_the_agent(issuer: Issuer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{issuer.url}/token",
            data={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth("invoice-bot", AGENT_SECRET),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 600
        assert response.headers["cache-control"] == "no-store"
        # Discovery -> JWKS over real HTTP, as with an external IdP.
        service = IdentityService.from_settings(issuer.settings, http)
        principal = await service.authenticate(f"Bearer {body['access_token']}")
    assert principal.subject == "invoice-bot"
    assert principal.kind is PrincipalKind.AGENT
    assert principal.teams == {"payments"}
    service.authorize(principal, Permission.INSTANCES_START, "payments")
    with pytest.raises(Forbidden) as info:
        service.authorize(principal, Permission.DECISIONS_DECIDE, "payments")
    assert info.value.reason == "agent_cannot_decide"
    exp, iat = principal.claims["exp"], principal.claims["iat"]
    assert exp - iat == 600


async def test_client_secret_post_is_accepted(issuer: Issuer) -> None:
    async with httpx.AsyncClient() as http:
        form = {
            "grant_type": "client_credentials",
            "client_id": "invoice-bot",
            "client_secret": AGENT_SECRET,
        }
        response = await http.post(f"{issuer.url}/token", data=form)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("invoice-bot", "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, ("nobody", AGENT_SECRET), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password"}, ("invoice-bot", AGENT_SECRET), 400, "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "client_secret": AGENT_SECRET},
            ("invoice-bot", AGENT_SECRET),
            400,
            "invalid_request",
        ),
    ],
)
async def test_token_endpoint_refusals(
    issuer: Issuer,
    form: dict[str, str],
    auth: tuple[str, str] | None,
    status: int,
    error: str,
) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{issuer.url}/token",
            data=form,
            auth=httpx.BasicAuth(*auth) if auth else httpx.USE_CLIENT_DEFAULT,
        )
    assert response.status_code == status
    assert response.json()["error"] == error
    assert AGENT_SECRET not in response.text


async def test_token_endpoint_wants_a_form(issuer: Issuer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{issuer.url}/token",
            json={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth("invoice-bot", AGENT_SECRET),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_refuses_production_and_disabled(tmp_path: Path) -> None:
    settings = dev_settings("http://127.0.0.1:8600", tmp_path)
    with pytest.raises(Forbidden) as info:
        create_dev_issuer_app(settings, Profile.PRODUCTION)
    assert info.value.reason == "dev_issuer_in_production"
    assert not (tmp_path / KEY_FILE).exists()  # refused before any key was made
    disabled = settings.model_copy(
        update={"dev_issuer": settings.dev_issuer.model_copy(update={"enabled": False})}
    )
    with pytest.raises(Forbidden) as info:
        create_dev_issuer_app(disabled, Profile.DEVELOPMENT)
    assert info.value.reason == "dev_issuer_disabled"


def test_production_identity_settings_must_be_safe() -> None:
    with pytest.raises(ValueError, match="DEV_ISSUER__ENABLED") as info:
        refuse_unsafe_production(IdentitySettings(), Profile.PRODUCTION)
    assert "must use https" in str(info.value)
    refuse_unsafe_production(IdentitySettings(), Profile.DEVELOPMENT)
    safe = IdentitySettings(
        issuer="https://login.example.com/realms/acme",
        dev_issuer=DevIssuerSettings(enabled=False),
    )
    refuse_unsafe_production(safe, Profile.PRODUCTION)


def test_dev_issuer_tokens_are_short_lived() -> None:
    with pytest.raises(ValueError, match="at most 1h"):
        DevIssuerSettings(token_ttl="2h")


def test_signing_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path / "keys")
    second = load_or_create_signing_key(tmp_path / "keys")
    assert first.kid == second.kid
    assert stat.S_IMODE((tmp_path / "keys" / KEY_FILE).stat().st_mode) == 0o600
    assert "d" not in first.public_jwk()  # the JWKS carries no private material


# --- CLI -----------------------------------------------------------------------------

DEV_ENV = {"GANTRAL_PROFILE": "development"}
PROD_ENV = {"GANTRAL_PROFILE": "production", "GANTRAL_DEV_IDENTITY_HEADERS": "false"}


async def test_cli_mint_prints_a_token_that_validates(tmp_path: Path) -> None:
    args = ["mint", "--user", "alice", "--role", "approver", "--team", "payments"]
    args += ["--ttl", "5m", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(identity_app, args, env=DEV_ENV)
    assert result.exit_code == 0, result.output
    key = load_or_create_signing_key(tmp_path)
    jwks_url = "http://127.0.0.1:8600/jwks.json"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=key.jwks()))
    async with httpx.AsyncClient(transport=transport) as http:
        settings = IdentitySettings(jwks_url=jwks_url)
        principal = await TokenValidator(settings, http).validate(result.stdout.strip())
    assert principal.subject == "alice"
    assert principal.kind is PrincipalKind.HUMAN
    check(principal, Permission.DECISIONS_DECIDE, "payments")
    assert principal.claims["exp"] - principal.claims["iat"] == 300


async def test_cli_add_client_then_client_credentials(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["add-client", "ledger-bot", "--team", "payments", "--data-dir", str(tmp_path)]
    result = runner.invoke(identity_app, args, env=DEV_ENV)
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert stat.S_IMODE((tmp_path / "clients.yaml").stat().st_mode) == 0o600
    settings = IdentitySettings(dev_issuer=DevIssuerSettings(data_dir=tmp_path))
    app = create_dev_issuer_app(settings, Profile.DEVELOPMENT)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dev") as http:
        response = await http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth("ledger-bot", secret),
        )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "args",
    [
        ["serve-dev-issuer"],
        ["mint", "--user", "alice"],
        ["add-client", "bot"],
    ],
)
def test_cli_refuses_production(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(identity_app, [*args, "--data-dir", str(tmp_path)], env=PROD_ENV)
    assert result.exit_code == 2
    assert "production" in result.output
    assert not (tmp_path / KEY_FILE).exists()


async def test_cli_mint_and_add_client_name_the_agents_owner(tmp_path: Path) -> None:
    """The owner lands under the configured claim name and comes back on the principal."""
    runner = CliRunner()
    env = {**DEV_ENV, "GANTRAL_IDENTITY__CLAIMS__OWNER": "acme.owner"}
    minted = runner.invoke(
        identity_app,
        ["mint", "--user", "bot-1", "--agent", "--owner", "alice", "--data-dir", str(tmp_path)],
        env=env,
    )
    assert minted.exit_code == 0, minted.output
    added = runner.invoke(
        identity_app,
        ["add-client", "ledger-bot", "--owner", "bob", "--data-dir", str(tmp_path)],
        env=env,
    )
    assert added.exit_code == 0, added.output
    settings = IdentitySettings.model_validate(
        {"dev_issuer": {"data_dir": tmp_path}, "claims": {"owner": "acme.owner"}}
    )
    app = create_dev_issuer_app(settings, Profile.DEVELOPMENT)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://dev"
    ) as http:
        issued = await http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth("ledger-bot", added.stdout.strip()),
        )
    assert issued.status_code == 200, issued.text
    key = load_or_create_signing_key(tmp_path)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=key.jwks()))
    async with httpx.AsyncClient(transport=transport) as http:
        validator = TokenValidator(
            settings.model_copy(update={"jwks_url": "http://dev/jwks.json"}), http
        )
        bot = await validator.validate(minted.stdout.strip())
        ledger = await validator.validate(issued.json()["access_token"])
    assert (bot.subject, bot.owner, bot.claims["acme.owner"]) == ("bot-1", "alice", "alice")
    assert (ledger.subject, ledger.owner) == ("ledger-bot", "bob")


def test_cli_mint_refuses_an_owner_for_a_human(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        identity_app,
        ["mint", "--user", "alice", "--owner", "bob", "--data-dir", str(tmp_path)],
        env=DEV_ENV,
    )
    assert result.exit_code == 2 and "only an agent has an owner" in result.output

"""Bearer tokens for the integration tests, signed by a development-issuer key made for
this test session.

The key exists from import time, so ready-made header dicts can be module constants; the
session's `dev_issuer` fixture (conftest) serves its JWKS over real HTTP and the test
settings trust it. Every test principal belongs to team `payments` unless said otherwise,
and holds its policy roles (e.g. `TECH_LEAD`) plus the permission-table roles it needs
(`approver`, `supervisor`, `auditor`, `platform-admin`; see `default_permissions.yaml`).

    from tests.helpers.auth import AGENT, LEAD, bearer, token
    await api.get(f"/v1/instances/{iid}", headers=LEAD)
    headers = bearer("carl", ["CFO", "approver"])           # a human of team payments
    headers = bearer("bot-9", teams=["risk"], agent=True)   # an agent of team risk
    sdk.BearerToken(token("alice", ["TECH_LEAD", "approver"]))
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from gantral.devstack.process import free_port
from gantral.identity.dev_clients import CLIENTS_FILE
from gantral.identity.dev_issuer import create_dev_issuer_app
from gantral.identity.dev_keys import KEY_FILE, SigningKey, mint_token
from gantral.identity.principal import PrincipalKind
from gantral.identity.service import IdentityService
from gantral.settings import Profile
from gantral.settings.identity import (
    Delegation,
    DevClient,
    DevIssuerSettings,
    IdentitySettings,
)

__all__ = [
    "ADMIN",
    "AGENT",
    "AUDIENCE",
    "AUDITOR",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "GATEWAY_RESOURCE",
    "ISSUER",
    "KEY",
    "LEAD",
    "LEAD2",
    "MANAGER",
    "OWNED_CLIENT_ID",
    "OWNED_CLIENT_SECRET",
    "OWNER",
    "SECURITY",
    "TEAM",
    "bearer",
    "identity_settings",
    "offline_identity",
    "serve_dev_issuer",
    "token",
]

KEY = SigningKey.generate()
# The `iss` of every test token. Not an address: the JWKS URL is configured explicitly.
ISSUER = "https://dev-issuer.gantral.test"
AUDIENCE = "gantral-test"
# The MCP gateway's resource URL (the audience of its callers' tokens): the API lets a
# gateway agent act for the callers of tokens issued for it.
GATEWAY_RESOURCE = "https://mcp-gateway.gantral.test/mcp"
TEAM = "payments"
# An agent registered with the session's dev issuer (client-credentials grant).
CLIENT_ID = "deploy-bot"
CLIENT_SECRET = "deploy-bot-test-secret"
# One registered with an owner (in the issuer's clients.yaml): its tokens name `alice`.
OWNED_CLIENT_ID = "owned-bot"
OWNED_CLIENT_SECRET = "owned-bot-test-secret"
OWNER = "alice"


def token(
    sub: str,
    roles: Iterable[str] = (),
    teams: Iterable[str] = (TEAM,),
    *,
    agent: bool = False,
    ttl: timedelta = timedelta(hours=2),
    now: datetime | None = None,
    audience: str = AUDIENCE,
    issuer: str = ISSUER,
    key: SigningKey = KEY,
    extra: dict[str, Any] | None = None,
    owner: str | None = None,
) -> str:
    """A signed access token for a human (default) or an agent (with an `owner`, if given)."""
    return mint_token(
        key,
        issuer=issuer,
        audience=audience,
        subject=sub,
        kind=PrincipalKind.AGENT if agent else PrincipalKind.HUMAN,
        roles=list(roles),
        teams=list(teams),
        ttl=ttl,
        now=now or datetime.now(UTC),
        extra=extra,
        owner=owner,
    )


def bearer(
    sub: str,
    roles: Iterable[str] = (),
    teams: Iterable[str] = (TEAM,),
    agent: bool = False,
    *,
    owner: str | None = None,
) -> dict[str, str]:
    """`{"Authorization": "Bearer <token>"}` for `sub`."""
    return {"Authorization": f"Bearer {token(sub, roles, teams, agent=agent, owner=owner)}"}


AGENT = bearer("agent-7", agent=True)
LEAD = bearer("alice", ["TECH_LEAD", "approver", "auditor"])
LEAD2 = bearer("bob", ["TECH_LEAD", "approver"])
SECURITY = bearer("sam", ["SECURITY_REVIEWER", "approver"])
MANAGER = bearer("maria", ["SRE_MANAGER", "supervisor"])
AUDITOR = bearer("audrey", ["auditor"], teams=())
ADMIN = bearer("pat", ["platform-admin"], teams=())


def identity_settings(
    jwks_url: str, dev_issuer: DevIssuerSettings | None = None
) -> IdentitySettings:
    """Identity settings trusting this session's key, served at `jwks_url`."""
    return IdentitySettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=jwks_url,
        dev_issuer=dev_issuer or DevIssuerSettings(url=ISSUER),
        delegation=Delegation(
            audiences=[GATEWAY_RESOURCE], gateways={"mcp-gw": [GATEWAY_RESOURCE]}
        ),
    )


@contextlib.asynccontextmanager
async def offline_identity() -> AsyncIterator[IdentityService]:
    """An identity service trusting `KEY` with no server: the JWKS comes from a
    `MockTransport`. For apps built by hand around one router."""
    jwks = httpx.MockTransport(lambda _: httpx.Response(200, json=KEY.jwks()))
    async with httpx.AsyncClient(transport=jwks) as http:
        yield IdentityService.from_settings(identity_settings("http://jwks.test/jwks.json"), http)


@contextlib.contextmanager
def serve_dev_issuer(data_dir: Path) -> Iterator[IdentitySettings]:
    """The real development issuer app, holding `KEY`, on a free port (uvicorn, thread).

    Yields settings that trust it: tokens from `token(...)` and from its `/token`
    endpoint (clients `CLIENT_ID` and `OWNED_CLIENT_ID`) validate against its JWKS over HTTP.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    pem = KEY.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (data_dir / KEY_FILE).write_bytes(pem)
    owned = {
        "client_id": OWNED_CLIENT_ID,
        "client_secret": OWNED_CLIENT_SECRET,
        "teams": [TEAM],
        "owner": OWNER,
    }
    (data_dir / CLIENTS_FILE).write_text(yaml.safe_dump([owned]))
    client = DevClient(client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET), teams=[TEAM])
    dev = DevIssuerSettings(url=ISSUER, data_dir=data_dir, clients=[client])
    for attempt in range(3):
        port = free_port()
        settings = identity_settings(f"http://127.0.0.1:{port}/jwks.json", dev)
        app = create_dev_issuer_app(settings, Profile.DEVELOPMENT)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if server.started:
            break
        server.should_exit = True
        thread.join(timeout=5)
        if attempt == 2:
            raise RuntimeError("the development issuer did not start")
    try:
        yield settings
    finally:
        server.should_exit = True
        thread.join(timeout=10)

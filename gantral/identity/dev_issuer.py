"""A small development OIDC issuer, so Gantral can be tried without an external IdP.

    GET  /.well-known/openid-configuration   discovery
    GET  /jwks.json                          its one public key
    POST /token                              client-credentials grant -> agent token
                                             (naming the client's owner, if registered)

It refuses to be created under the production profile (or when disabled): a
development key must never be able to mint production authority.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gantral.errors import Forbidden, Reason
from gantral.identity.dev_clients import authenticate_client, load_clients
from gantral.identity.dev_keys import ALGORITHM, load_or_create_signing_key, mint_token
from gantral.identity.principal import PrincipalKind
from gantral.settings import Profile
from gantral.settings.identity import IdentitySettings

__all__ = ["create_dev_issuer_app", "refuse_outside_development", "serve_dev_issuer"]

_MAX_FORM_BYTES = 8192
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def refuse_outside_development(settings: IdentitySettings, profile: Profile) -> None:
    if profile is Profile.PRODUCTION:
        raise Forbidden(
            "the development issuer never runs under the production profile",
            reason=Reason.DEV_ISSUER_IN_PRODUCTION,
        )
    if not settings.dev_issuer.enabled:
        raise Forbidden("the development issuer is disabled", reason=Reason.DEV_ISSUER_DISABLED)


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="gantral-dev-issuer"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _form(body: bytes) -> dict[str, str] | None:
    """RFC 6749: form-encoded, each parameter at most once."""
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return None
    if any(len(values) != 1 for values in parsed.values()):
        return None
    return {name: values[0] for name, values in parsed.items()}


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else None


def create_dev_issuer_app(settings: IdentitySettings, profile: Profile) -> FastAPI:
    refuse_outside_development(settings, profile)
    dev = settings.dev_issuer
    key = load_or_create_signing_key(dev.data_dir)
    clients = load_clients(dev)
    issuer = dev.url.rstrip("/")
    app = FastAPI(title="Gantral development issuer", docs_url=None, redoc_url=None)

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/jwks.json",
            "token_endpoint": f"{issuer}/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }

    @app.get("/jwks.json")
    def jwks() -> dict[str, Any]:
        return key.jwks()

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        form = _form(body) if len(body) <= _MAX_FORM_BYTES else None
        if content_type != "application/x-www-form-urlencoded" or form is None:
            return _oauth_error(400, "invalid_request", "expected a form-encoded body")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials")
        basic = _basic_credentials(request.headers.get("authorization"))
        posted = form.get("client_id"), form.get("client_secret")
        if basic and posted[1] is not None:
            return _oauth_error(400, "invalid_request", "use one client authentication method")
        client_id, client_secret = basic or posted
        client = (
            authenticate_client(clients, client_id, client_secret)
            if client_id and client_secret is not None
            else None
        )
        if client is None:
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
        access_token = mint_token(
            key,
            issuer=issuer,
            audience=settings.audience,
            subject=client.client_id,
            kind=PrincipalKind.AGENT,
            roles=client.roles,
            teams=client.teams,
            ttl=dev.token_ttl,
            owner=client.owner,
            owner_claim=settings.claims.owner,
        )
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": int(dev.token_ttl.total_seconds()),
            },
            headers=_NO_STORE,
        )

    return app


def serve_dev_issuer(settings: IdentitySettings, profile: Profile) -> None:
    """Run the issuer with uvicorn on the host and port of `dev_issuer.url` (blocking)."""
    import uvicorn

    app = create_dev_issuer_app(settings, profile)
    url = urlsplit(settings.dev_issuer.url)
    uvicorn.run(app, host=url.hostname or "127.0.0.1", port=url.port or 8600, log_level="info")

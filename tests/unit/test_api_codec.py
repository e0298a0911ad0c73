"""Who may use the API's codec server (`POST /codec/decode`): only a caller with
`audit:read` on every team, since a payload names no team. The real-stack test
(tests/integration/test_temporal_codec.py) drives it with the temporal CLI."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gantral.api import errors
from gantral.api.authz import Caller, get_caller
from gantral.api.routers import codec
from gantral.identity import IdentityService, Principal
from gantral.identity.permissions import PermissionTable
from gantral.identity.principal import PrincipalKind
from gantral.temporal_codec import AesGcmCodec, converter_with

KEY = os.urandom(32)
TABLE = PermissionTable.model_validate(
    {
        "grants": [
            {"roles": ["auditor"], "permissions": ["audit:read"], "teams": ["*"]},
            {"roles": ["team-auditor"], "permissions": ["audit:read"]},
        ]
    }
)


class _Temporal:
    """Only what the route reads of the Temporal client: its data converter."""

    def __init__(self, codec: AesGcmCodec | None) -> None:
        self.data_converter = converter_with(codec)


def _client(roles: set[str], payload_codec: AesGcmCodec | None) -> TestClient:
    app = FastAPI()
    errors.install(app)
    app.include_router(codec.router)
    app.state.temporal = _Temporal(payload_codec)
    principal = Principal(
        subject="pat", kind=PrincipalKind.HUMAN, roles=frozenset(roles), teams={"payments"}
    )
    identity = IdentityService(None, TABLE)  # type: ignore[arg-type]  # no tokens here
    app.dependency_overrides[get_caller] = lambda: Caller(principal, identity, None, "test")
    return TestClient(app)


def _encrypted(text: str) -> dict[str, object]:
    [payload] = asyncio.run(converter_with(AesGcmCodec({"k1": KEY}, "k1")).encode([text]))
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


def test_an_auditor_of_every_team_reads_the_plaintext() -> None:
    client = _client({"auditor"}, AesGcmCodec({"k1": KEY}, "k1"))
    resp = client.post("/codec/decode", json={"payloads": [_encrypted("the justification")]})
    assert resp.status_code == 200, resp.text
    [decoded] = resp.json()["payloads"]
    assert base64.b64decode(decoded["data"]) == b'"the justification"'
    assert base64.b64decode(decoded["metadata"]["encoding"]) == b"json/plain"


@pytest.mark.parametrize(("roles", "reason"), [({"team-auditor"}, "codec_needs_all_teams")])
def test_an_auditor_of_some_teams_is_refused(roles: set[str], reason: str) -> None:
    client = _client(roles, AesGcmCodec({"k1": KEY}, "k1"))
    resp = client.post("/codec/decode", json={"payloads": [_encrypted("x")]})
    assert resp.status_code == 403 and resp.json()["reason"] == reason


def test_an_unknown_key_is_a_typed_error_naming_it() -> None:
    client = _client({"auditor"}, AesGcmCodec({"k2": os.urandom(32)}, "k2"))
    resp = client.post("/codec/decode", json={"payloads": [_encrypted("x")]})
    assert resp.status_code == 503 and resp.json()["reason"] == "codec_key_unknown"
    assert "'k1'" in resp.json()["message"]


def test_nothing_to_decode_with_while_the_codec_is_off() -> None:
    resp = _client({"auditor"}, None).post("/codec/decode", json={"payloads": []})
    assert resp.status_code == 404 and resp.json()["reason"] == "codec_not_enabled"

"""A Temporal codec server on the API (`POST /codec/decode`), so an operator can read
Gantral's encrypted payloads in Temporal's Web UI or CLI (`temporal --codec-endpoint
https://gantral.example/codec --codec-auth "Bearer <token>" workflow show ...`).

Only with the payload codec on (else 404 `codec_not_enabled`), and only for a caller with
`audit:read` on every team: a payload names no team, so decoding one is an audit read of
any instance. Only decoding: nothing is ever encoded for a caller (the Web UI would use
that to send signals past Gantral). The Web UI calls from the browser: its origin must be
in `GANTRAL_TEMPORAL__CODEC__CORS_ORIGINS` (preflights for /codec/ are answered here,
before the token is checked, as browsers send them without one).

Not part of the published API contract (specs/openapi.json): it is Temporal's protocol.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from gantral.api.authz import CurrentCaller
from gantral.errors import Forbidden, InvalidInput, NotFound, Reason
from gantral.identity import Permission
from gantral.temporal_codec import client_codec

__all__ = ["PREFIX", "install", "router"]

PREFIX = "/codec"
router = APIRouter(prefix=PREFIX, tags=["codec"], include_in_schema=False)


class JsonPayload(BaseModel):
    """A payload in protobuf's JSON form: metadata values and data as base64."""

    metadata: dict[str, str] = Field(default_factory=dict, max_length=64)
    data: str = ""


class JsonPayloads(BaseModel):
    payloads: list[JsonPayload] = Field(max_length=10_000)


@router.post("/decode")
async def decode(body: JsonPayloads, request: Request, caller: CurrentCaller) -> JsonPayloads:
    await caller.check(Permission.AUDIT_READ)
    if not caller.identity.visible_teams(caller.principal, Permission.AUDIT_READ).any_team:
        raise Forbidden(
            "decoding Temporal payloads needs audit:read on every team (a payload names no team)",
            reason=Reason.CODEC_NEEDS_ALL_TEAMS,
        )
    codec = client_codec(request.app.state.temporal)
    if codec is None:
        raise NotFound("the payload codec is not enabled", reason=Reason.CODEC_NOT_ENABLED)
    decoded = [codec.decode_one(_payload(p, i)) for i, p in enumerate(body.payloads)]
    return JsonPayloads(payloads=[_json(p) for p in decoded])


def _payload(item: JsonPayload, index: int) -> Payload:
    try:
        return Payload(
            metadata={k: base64.b64decode(v, validate=True) for k, v in item.metadata.items()},
            data=base64.b64decode(item.data, validate=True),
        )
    except (binascii.Error, ValueError):
        raise InvalidInput(
            f"payloads[{index}] is not base64 in its metadata or data",
            reason=Reason.VALIDATION_FAILED,
            field=f"payloads[{index}]",
        ) from None


def _json(payload: Payload) -> JsonPayload:
    return JsonPayload(
        metadata={k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        data=base64.b64encode(payload.data).decode(),
    )


class _Cors:
    """CORS for /codec/ only, for the listed origins only (the Temporal Web UI)."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(o.rstrip("/") for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1")
        allowed = origin in self.origins
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            status = 204 if allowed else 403
            extra = _cors_headers(origin) if allowed else []
            await send({"type": "http.response.start", "status": status, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if allowed and message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], *_cors_headers(origin)]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", b"POST"),
        (b"access-control-allow-headers", b"authorization, content-type, x-namespace"),
        (b"access-control-max-age", b"600"),
        (b"vary", b"origin"),
    ]


def install(app: FastAPI, cors_origins: Iterable[str]) -> None:
    app.include_router(router)
    origins = list(cors_origins)
    if origins:
        app.add_middleware(_Cors, origins=origins)

"""Every request's ids for logs and traces: a request id (the caller's `X-Request-ID` if it
is a plain token, else a new one, echoed in the response), the instance id named by the
path, and the authenticated actor once the edge has checked the token.

Outermost middleware: the ids are set in the context the whole request runs in, uvicorn's
access-log line included (it is written when the response starts).
"""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gantral.api.edge import PRINCIPAL
from gantral.identity.principal import Principal
from gantral.observability import context

__all__ = ["RequestContextMiddleware", "install"]

HEADER = b"x-request-id"
_TOKEN = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_INSTANCE = re.compile(r"^/v1/instances/(inst_[A-Za-z0-9]+)")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(HEADER, b"")
        request_id = given.decode() if _TOKEN.fullmatch(given) else uuid.uuid4().hex
        match = _INSTANCE.match(scope.get("path", ""))
        instance = match.group(1) if match else None
        tokens = [context.request_id.set(request_id), context.instance_id.set(instance)]
        span = trace.get_current_span()
        span.set_attribute("gantral.request_id", request_id)
        if instance:
            span.set_attribute("gantral.instance_id", instance)

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                principal = scope.get("state", {}).get(PRINCIPAL)
                if isinstance(principal, Principal):
                    # Read by the access-log line written as this response starts.
                    context.actor.set(principal.subject)
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            context.instance_id.reset(tokens[1])
            context.request_id.reset(tokens[0])


def install(app: FastAPI) -> None:
    """Add it last (outermost)."""
    app.add_middleware(RequestContextMiddleware)

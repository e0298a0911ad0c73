"""The HTTP edge: what every request passes before any route sees it, in this order.

1. Size. A declared `Content-Length` over the limit is refused (413) before anything else.
2. Identity. Every path but the public ones needs a valid bearer token (401), checked
   before a byte of the body is read: a large or malformed body without a token costs
   nothing. The principal is left in the request state for `gantral.api.deps.get_principal`.
3. Size again. The body is counted as it streams in (chunked bodies declare no length)
   and reading stops at the limit (413).
4. JSON. A JSON body is decoded and checked here: malformed (422 `malformed_json`), not
   I-JSON, RFC 7493 (422 `not_i_json`, naming the field), or nested too deep (422
   `too_deep`). Nothing the audit sink's canonical encoder would refuse gets further.

The checked bytes are then handed on unchanged to the routes. Errors use the one error
tree (`gantral.errors`), rendered by `gantral.api.errors.error_response`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gantral.api.errors import BodyTooLarge, error_response
from gantral.domain.ijson import MAX_SAFE_INTEGER, find_violation
from gantral.errors import GantralError, InvalidInput, Reason
from gantral.identity import IdentityService
from gantral.identity.service import ON_BEHALF_OF

__all__ = ["PRINCIPAL", "EdgeMiddleware", "decode_json"]

PRINCIPAL = "principal"
"""Key of the validated principal in the request state (`request.state.principal`)."""

# Decoding a large body and walking it is CPU work: off the event loop above this size.
_THREAD_BYTES = 64 * 1024
# An integer literal this long is far outside ±(2**53-1); decoding it would cost
# quadratic time (and Python refuses over 4300 digits), so it is replaced by a stand-in
# that is just as far out of range, and reported at its path like any other.
_MAX_INT_DIGITS = 20
_OUT_OF_RANGE = MAX_SAFE_INTEGER * 2


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _integer(literal: str) -> int:
    if len(literal.lstrip("-")) > _MAX_INT_DIGITS:
        return _OUT_OF_RANGE
    return int(literal)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """RFC 7493 §2.3: member names are unique (Python would keep the last silently)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def decode_json(body: bytes, max_depth: int) -> Any:
    """The decoded body, or `InvalidInput` with reason `malformed_json`, `not_i_json` or
    `too_deep` and the JSON path of the problem in `details.field`."""
    # NaN, Infinity and too-large floats decode to non-finite floats, found (with their
    # path) by the walk below, like out-of-range integers and lone surrogates.
    try:
        value = json.loads(body, parse_int=_integer, object_pairs_hook=_unique_keys)
    except _DuplicateKey as duplicate:
        raise InvalidInput(
            f"the body is not I-JSON: an object repeats the key {duplicate.key!r}",
            reason=Reason.NOT_I_JSON,
        ) from None
    except RecursionError:
        raise InvalidInput(
            f"the body nests deeper than {max_depth} levels", reason=Reason.TOO_DEEP, field="$"
        ) from None
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bad UTF-8
        raise InvalidInput(
            f"the body is not valid JSON: {exc}", reason=Reason.MALFORMED_JSON
        ) from None
    violation = find_violation(value, "$", max_depth)
    if violation is not None:
        raise InvalidInput(
            f"the body is not acceptable JSON: {violation.message}",
            reason=Reason(violation.reason),
            field=violation.path,
        )
    return value


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class EdgeMiddleware:
    """Pure ASGI middleware (no `BaseHTTPMiddleware`: the body must not be buffered
    before the token is checked)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_json_depth: int,
        public_paths: Iterable[str],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.public_paths:  # they read no body and need no token
            await self.app(scope, receive, send)
            return
        try:
            self._check_length(scope)
            identity: IdentityService = scope["app"].state.identity
            principal = await identity.authenticate(
                _header(scope, b"authorization"), _header(scope, ON_BEHALF_OF.encode())
            )
            scope.setdefault("state", {})[PRINCIPAL] = principal
            body, disconnected = await self._read(receive)
            if body and _is_json(_header(scope, b"content-type")):
                await self._check_json(body)
        except GantralError as exc:
            await error_response(scope.get("app"), exc)(scope, receive, send)
            return
        await self.app(scope, _replay(body, disconnected, receive), send)

    def _check_length(self, scope: Scope) -> None:
        declared = _header(scope, b"content-length")
        # A malformed length is left to the server; the body is counted anyway.
        length = declared.strip() if declared is not None else ""
        if length.isdigit() and int(length) > self.max_body_bytes:
            raise self._too_large()

    def _too_large(self) -> BodyTooLarge:
        return BodyTooLarge(
            f"the request body is larger than {self.max_body_bytes} bytes",
            limit=self.max_body_bytes,
        )

    async def _read(self, receive: Receive) -> tuple[bytes, bool]:
        """The whole body, refused as soon as it passes the limit; and whether the client
        went away meanwhile."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), True
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def _check_json(self, body: bytes) -> None:
        if len(body) > _THREAD_BYTES:
            await asyncio.to_thread(decode_json, body, self.max_json_depth)
        else:
            decode_json(body, self.max_json_depth)


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    """The body as one message, then the client's own messages (e.g. a disconnect that
    ends a long poll)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if disconnected:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

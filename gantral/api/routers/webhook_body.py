"""Webhook bodies, read safely: bounded, then signature-checked before anything is parsed.

Channel and trigger routes are public (no bearer token), so the edge does not bound their
bodies; they read at most `limit` bytes here and refuse more with 413.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from gantral.api.errors import BodyTooLarge
from gantral.errors import NotFound, Reason, Unauthenticated

__all__ = ["bounded_body", "check_hub_signature", "off"]


async def bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the request body is larger than {limit} bytes", limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the request body is larger than {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def check_hub_signature(secret: bytes, body: bytes, header: str | None, who: str) -> None:
    """`sha256=<hex HMAC-SHA256 of the body>` (GitHub's X-Hub-Signature-256, Jira's
    X-Hub-Signature), compared in constant time; anything else is 401."""
    if not header or not header.startswith("sha256="):
        raise Unauthenticated(f"{who} call without a sha256 signature", reason=Reason.UNSIGNED)
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(header.removeprefix("sha256="), expected):
        raise Unauthenticated(
            f"{who} signature does not match the body", reason=Reason.BAD_SIGNATURE
        )


def off(channel: str) -> NotFound:
    return NotFound(
        f"the {channel} adapter is not configured", reason=Reason.CHANNEL_NOT_CONFIGURED
    )

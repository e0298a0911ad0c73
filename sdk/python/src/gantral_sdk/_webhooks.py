"""Verifying Gantral's callbacks (Standard Webhooks), with the standard library only.

A delivery is genuine when one of the space-separated `v1,<base64>` entries of
`webhook-signature` is the HMAC-SHA256, under the `whsec_` secret, of
"{webhook-id}.{webhook-timestamp}.{body}", and the timestamp is within five minutes of
now. Known answers: specs/webhook-vectors.json (the TypeScript and Go SDKs check the same).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

from gantral_sdk._errors import WebhookVerificationError

TOLERANCE_SECONDS = 300
"""How far a delivery's timestamp may be from now."""


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise WebhookVerificationError("unusable webhook secret")
    return key


def verify_callback(
    secret: str, headers: dict[str, str], body: bytes | str, *, now: float | None = None
) -> Any:
    """Verify a callback delivery (its raw body, exactly as received) and return its
    parsed payload; raises `WebhookVerificationError` on a forged, altered or stale one."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (msg_id and timestamp and signatures):
        raise WebhookVerificationError("missing webhook headers")
    if not timestamp.isascii() or not timestamp.isdigit():
        raise WebhookVerificationError("invalid webhook timestamp")
    current = time.time() if now is None else now
    if abs(int(timestamp) - current) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("webhook timestamp out of tolerance")
    raw = body.encode() if isinstance(body, str) else body
    expected = hmac.new(
        _key(secret), f"{msg_id}.{timestamp}.".encode() + raw, hashlib.sha256
    ).digest()
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(given, expected):
            try:
                return json.loads(raw)
            except ValueError as exc:
                raise WebhookVerificationError("the body is not JSON") from exc
    raise WebhookVerificationError("no matching webhook signature")

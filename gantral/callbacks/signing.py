"""Standard Webhooks signatures, with the maintained `standardwebhooks` library.

Headers: `webhook-id` (one per resolution, so receivers can drop repeats),
`webhook-timestamp` (seconds, of this attempt) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`).
"""

from __future__ import annotations

import base64
import importlib
import secrets
from datetime import datetime
from typing import Any

__all__ = ["new_secret", "sign", "verification_error", "verify"]


def _webhooks() -> Any:
    # Imported when used: the dependency is declared in pyproject.toml by the lead
    # (/tmp/notes/requests-15.md); until then only the callback worker needs it.
    return importlib.import_module("standardwebhooks.webhooks")


def verification_error() -> type[Exception]:
    """The library's WebhookVerificationError (a bad, stale or unsigned delivery)."""
    error: type[Exception] = _webhooks().WebhookVerificationError
    return error


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form (`whsec_` + base64)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three headers of a signed delivery of `body`, sent at `at` (aware, UTC)."""
    signature = str(_webhooks().Webhook(secret).sign(msg_id, at, body))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def verify(secret: str, headers: dict[str, str], body: bytes | str) -> Any:
    """The parsed body of a genuine delivery; raises `verification_error()` otherwise
    (bad signature, missing headers, timestamp more than 5 minutes off)."""
    return _webhooks().Webhook(secret).verify(body, headers)

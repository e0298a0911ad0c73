"""Deciding as a human does over the API: read the request, then decide on exactly it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

__all__ = ["decide_as_shown", "shown_digest"]


async def shown_digest(
    api: httpx.AsyncClient, iid: str, rid: str, headers: dict[str, str] | None = None
) -> str:
    """The `args_digest` of the request as a human reading it now is shown it."""
    shown = await api.get(f"/v1/instances/{iid}/requests/{rid}", headers=headers)
    assert shown.status_code == 200, shown.text
    return str(shown.json()["args_digest"])


async def decide_as_shown(
    api: httpx.AsyncClient,
    iid: str,
    rid: str,
    headers: dict[str, str] | None = None,
    decision_type: str = "APPROVE",
    **fields: Any,
) -> httpx.Response:
    """Read request `rid`, then decide on it bound to the digest read (a fresh key unless
    `idempotency_key` is given)."""
    body = {
        "request_id": rid,
        "seen_args_digest": await shown_digest(api, iid, rid, headers),
        "decision_type": decision_type,
        "idempotency_key": uuid.uuid4().hex,
        **fields,
    }
    return await api.post(f"/v1/instances/{iid}/decisions", json=body, headers=headers)

"""The approver inbox over HTTP, every page read: a busy test session keeps more requests
open than one page holds, and the newest (no deadline) come last."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["every_page"]


async def every_page(
    api: httpx.AsyncClient, who: dict[str, str], limit: int, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every item of the caller's inbox, page after page; and how many pages."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    while True:
        query: dict[str, Any] = {"limit": limit, **params}
        if token:
            query["page_token"] = token
        resp = await api.get("/v1/requests", params=query, headers=who)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        pages += 1
        assert len(page["items"]) <= limit
        items += page["items"]
        token = page["next_page_token"]
        assert page["truncated"] == (token is not None)
        if token is None:
            return items, pages

"""Jira Cloud REST API v3, the few calls the relay needs. Basic auth with an API token;
errors become `JiraUnavailable` (status only, never credentials) and Temporal retries."""

from __future__ import annotations

from typing import Any

import httpx

from gantral.channels.settings import JiraSettings

__all__ = ["JiraRest", "JiraUnavailable", "adf"]


class JiraUnavailable(Exception):
    pass


def adf(text: str) -> dict[str, Any]:
    """Atlassian Document Format: one paragraph per line."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            for line in text.splitlines()
            if line
        ],
    }


class JiraRest:
    def __init__(self, settings: JiraSettings, timeout: float = 10.0) -> None:
        self._settings = settings
        self._auth = httpx.BasicAuth(settings.email, settings.api_token.get_secret_value())
        self._timeout = timeout

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self._settings.base_url.rstrip("/") + path
        try:
            async with httpx.AsyncClient(auth=self._auth, timeout=self._timeout) as http:
                response = await http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise JiraUnavailable(f"jira {method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise JiraUnavailable(f"jira {method} {path}: HTTP {response.status_code}")
        return response.json() if response.content else None

    async def create_issue(
        self, project: str, summary: str, description: str, labels: list[str]
    ) -> str:
        fields = {
            "project": {"key": project},
            "issuetype": {"name": self._settings.issue_type},
            "summary": summary[:250],
            "description": adf(description),
            "labels": labels,
        }
        created = await self._call("POST", "/rest/api/3/issue", {"fields": fields})
        return str(created["key"])

    async def transition(self, key: str, name: str) -> bool:
        """Move the issue through the transition called `name`; False if it has none
        (e.g. it is already there)."""
        found = await self._call("GET", f"/rest/api/3/issue/{key}/transitions")
        ids = [t["id"] for t in (found or {}).get("transitions", []) if t.get("name") == name]
        if not ids:
            return False
        await self._call(
            "POST", f"/rest/api/3/issue/{key}/transitions", {"transition": {"id": ids[0]}}
        )
        return True

    async def comment(self, key: str, text: str) -> None:
        await self._call("POST", f"/rest/api/3/issue/{key}/comment", {"body": adf(text)})

"""Jira Cloud REST API v3, the few calls the relay needs. Basic auth with an API token.

Errors become `JiraUnavailable` (status only, never credentials), classified
(gantral.channels.delivery): 429 and 5xx (with their `Retry-After`), timeouts and a refused
token (401) are transient; any other 4xx (400 for a field Jira will not take, 403 for a
project the account may not use, 404 for a deleted issue) is permanent.

Jira Cloud's text fields hold at most 32,767 characters: a description or comment that
would not fit is cut, with a note saying so and where to read it all, before it is sent.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

from gantral.channels.delivery import DeliveryFailed, retry_after_seconds
from gantral.settings.channels import JiraSettings

__all__ = ["JIRA_TEXT_LIMIT", "JiraRest", "JiraUnavailable", "adf", "adf_size", "fitted"]

JIRA_TEXT_LIMIT = 32_767
# Left for what Jira adds around a field when it measures it.
_MARGIN = 256


class JiraUnavailable(DeliveryFailed):
    def __init__(
        self, what: str, code: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(what, code, permanent=permanent, retry_after=retry_after)


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


def adf_size(text: str) -> int:
    """The field's size as sent: the serialized document, which is never shorter than its
    text, so a field within the limit by this measure is within it by any."""
    return len(json.dumps(adf(text)))


def fitted(text: str, see: str) -> str:
    """`text` if it fits one Jira text field, else its head and a line saying it was cut
    and where to see all of it (`see`, e.g. `gantral requests show INSTANCE/REQUEST`)."""
    limit = JIRA_TEXT_LIMIT - _MARGIN
    if adf_size(text) <= limit:
        return text
    note = f"[cut: longer than Jira's {JIRA_TEXT_LIMIT:,}-character field; see `{see}`]"
    keep = min(len(text), limit - len(note))
    while keep > 0:
        candidate = text[:keep].rstrip() + "\n" + note
        size = adf_size(candidate)
        if size <= limit:
            return candidate
        # Shrink in proportion: many short lines cost more as a document than their text.
        keep = min(keep - 1, int(keep * limit / size * 0.98))
    return note


class JiraRest:
    def __init__(self, settings: JiraSettings, timeout: float | None = None) -> None:
        self._settings = settings
        self._auth = httpx.BasicAuth(settings.email, settings.api_token.get_secret_value())
        self._timeout = timeout if timeout is not None else settings.timeout_seconds

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self._settings.base_url.rstrip("/") + path
        what = f"jira {method} {path}"
        try:
            async with httpx.AsyncClient(auth=self._auth, timeout=self._timeout) as http:
                response = await http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise JiraUnavailable(what, type(exc).__name__) from None
        status = response.status_code
        if status < 300:
            return response.json() if response.content else None
        code = f"http_{status}"
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise JiraUnavailable(what, code, retry_after=wait)
        # 401: the account's token is refused, for every call alike: retried until fixed.
        raise JiraUnavailable(what, code, permanent=status != 401)

    async def create_issue(
        self, project: str, summary: str, description: str, labels: list[str], *, see: str
    ) -> str:
        fields = {
            "project": {"key": project},
            "issuetype": {"name": self._settings.issue_type},
            "summary": summary[:250],
            "description": adf(fitted(description, see)),
            "labels": labels,
        }
        created = await self._call("POST", "/rest/api/3/issue", {"fields": fields})
        return str(created["key"])

    async def find_labelled(self, label: str) -> list[str]:
        """The keys of the issues carrying `label`, oldest first (Jira's enhanced search)."""
        jql = f'labels = "{label}" ORDER BY created ASC'
        found = await self._call(
            "GET", "/rest/api/3/search/jql?" + urlencode({"jql": jql, "fields": "key"})
        )
        return [str(issue["key"]) for issue in (found or {}).get("issues", [])]

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

    async def transition_to(self, key: str, status: str) -> bool:
        """Move the issue to the status called `status` through whichever transition
        leads there; False if none does from where the issue is."""
        found = await self._call("GET", f"/rest/api/3/issue/{key}/transitions")
        ids = [
            t["id"]
            for t in (found or {}).get("transitions", [])
            if (t.get("to") or {}).get("name") == status
        ]
        if not ids:
            return False
        await self._call(
            "POST", f"/rest/api/3/issue/{key}/transitions", {"transition": {"id": ids[0]}}
        )
        return True

    async def comment(self, key: str, text: str, *, see: str = "gantral requests show") -> None:
        body = {"body": adf(fitted(text, see))}
        await self._call("POST", f"/rest/api/3/issue/{key}/comment", body)

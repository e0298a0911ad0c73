"""slack_sdk's Web API, off the event loop (its blocking client needs no aiohttp).

Failures become `SlackUnavailable` with Slack's error code and never the token; callers
(the relay's activities) let Temporal retry them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from gantral.channels.settings import SlackSettings
from gantral.channels.slack.groups import UserGroups

__all__ = ["SlackUnavailable", "SlackWeb"]


class SlackUnavailable(Exception):
    """Slack refused or could not be reached; `code` is Slack's error (or the HTTP failure)."""

    def __init__(self, method: str, code: str) -> None:
        super().__init__(f"slack {method} failed: {code}")
        self.code = code


class SlackWeb:
    def __init__(self, settings: SlackSettings, timeout: int = 10) -> None:
        self._client = WebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=settings.api_url,
            timeout=timeout,
        )
        # Kept with the client (one per API process and per relay worker), so the
        # membership cache outlives a single interaction.
        self.groups = UserGroups(self.read, settings.groups, settings.group_cache_seconds)

    async def call(self, method: str, **body: Any) -> dict[str, Any]:
        """One Web API method with a JSON body; Slack's answer (ok) or `SlackUnavailable`."""
        return await self._send(method, json=body)

    async def read(self, method: str, **params: Any) -> dict[str, Any]:
        """A method with form-encoded arguments: some (usergroups.*) take no JSON body."""
        return await self._send(method, params=params)

    async def _send(self, method: str, **how: Any) -> dict[str, Any]:
        def send() -> dict[str, Any]:
            try:
                response = self._client.api_call(method, **how)
            except SlackApiError as exc:
                raise SlackUnavailable(method, str(exc.response.get("error", "error"))) from None
            except (SlackClientError, OSError) as exc:
                raise SlackUnavailable(method, type(exc).__name__) from None
            return dict(response.data) if isinstance(response.data, dict) else {}

        return await asyncio.to_thread(send)

    async def user_email(self, user_id: str) -> str | None:
        """The user's e-mail (users.info, needs users:read.email), None if unknown."""

        def send() -> str | None:
            try:
                response = self._client.users_info(user=user_id)
            except (SlackApiError, SlackClientError, OSError):
                return None
            user = response.get("user") or {}
            email = (user.get("profile") or {}).get("email")
            return email if isinstance(email, str) else None

        return await asyncio.to_thread(send)

    @staticmethod
    async def respond(response_url: str, text: str, *, replace: bool = False) -> None:
        """An ephemeral answer to the clicking user through the interaction's response_url."""

        def send() -> None:
            try:
                WebhookClient(response_url, timeout=10).send(
                    text=text, response_type="ephemeral", replace_original=replace
                )
            except (SlackClientError, OSError):
                return  # best effort: the message itself is updated by the relay

        await asyncio.to_thread(send)

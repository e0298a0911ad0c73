"""slack_sdk's Web API, off the event loop (its blocking client needs no aiohttp).

Failures become `SlackUnavailable` with Slack's error code and never the token, classified
(gantral.channels.delivery): rate limits (with their `Retry-After`), 5xx, timeouts and a
refused token are transient; any other error Slack names (`message_not_found`,
`not_in_channel`, `msg_too_long`, ...) is permanent. The relay's client has slack_sdk's
own retries off (`sdk_retries=False`): a retry of a post whose answer was lost could post
twice, so the relay retries itself, and looks first for what the lost attempt posted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from gantral.channels.delivery import DeliveryFailed, retry_after_seconds
from gantral.channels.slack.groups import UserGroups
from gantral.settings.channels import SlackSettings

__all__ = ["SlackUnavailable", "SlackWeb", "slack_failure"]

# Errors Slack names that a later attempt can get past: its own trouble and rate limits.
_TRANSIENT = {
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
# The app's credentials or scopes refused: every call of the channel fails alike, so giving
# up on each request would drop them all; retried (with backoff) until an operator fixes it.
_CHANNEL_WIDE = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "missing_scope",
    "not_allowed_token_type",
    "team_access_not_granted",
}


class SlackUnavailable(DeliveryFailed):
    """Slack refused or could not be reached; `code` is Slack's error (or the HTTP failure)."""

    def __init__(
        self,
        method: str,
        code: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"slack {method}", code, permanent=permanent, retry_after=retry_after)
        self.method = method


def slack_failure(
    method: str, status: int, error: str, retry_after: str | None
) -> SlackUnavailable:
    """Classify Slack's answer: HTTP status, its `error` and its `Retry-After` header."""
    if status == 429 or error in ("ratelimited", "rate_limited"):
        return SlackUnavailable(
            method, "ratelimited", retry_after=retry_after_seconds(retry_after) or 1.0
        )
    if status >= 500 or error in _TRANSIENT:
        return SlackUnavailable(method, error or f"http_{status}")
    if error in _CHANNEL_WIDE:
        return SlackUnavailable(method, error)
    return SlackUnavailable(method, error or f"http_{status}", permanent=True)


class SlackWeb:
    def __init__(
        self, settings: SlackSettings, timeout: float | None = None, *, sdk_retries: bool = True
    ) -> None:
        self._client = WebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=settings.api_url,
            # slack_sdk passes it to urllib, which takes fractions of a second too.
            timeout=timeout if timeout is not None else settings.timeout_seconds,  # type: ignore[arg-type]
        )
        if not sdk_retries:
            self._client.retry_handlers = []
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
                answer = exc.response
                headers = {str(k).lower(): str(v) for k, v in (answer.headers or {}).items()}
                error = answer.get("error", "") if isinstance(answer.data, dict) else ""
                raise slack_failure(
                    method, int(answer.status_code), str(error or ""), headers.get("retry-after")
                ) from None
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

"""Who a Slack user is in Gantral, from configuration only (never from the payload)."""

from __future__ import annotations

from gantral.channels.settings import ChannelIdentity, SlackSettings
from gantral.channels.slack.web import SlackWeb

__all__ = ["identify"]


async def identify(settings: SlackSettings, web: SlackWeb, user_id: str) -> ChannelIdentity | None:
    """By Slack user id, else by the e-mail `users.info` reports; None: unmapped."""
    known = settings.users.get(user_id)
    if known is not None:
        return known
    if not settings.users_by_email:
        return None
    email = await web.user_email(user_id)
    by_email = {key.lower(): value for key, value in settings.users_by_email.items()}
    return by_email.get(email.lower()) if email else None

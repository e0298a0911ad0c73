"""Who a Slack user is in Gantral, from configuration and Slack's Web API only.

Nothing in the interaction payload but the (signed) user id is trusted: names, e-mails
and groups are read from Slack. A per-user mapping (by user id, else by the e-mail
`users.info` reports) names the actor; membership of configured user groups adds roles
and teams. A user matched only by groups is `slack:<user id>`: the id never changes,
unlike an e-mail, so quorum and separation of duties always see the same person, and it
is the name the access log already gives that user.
"""

from __future__ import annotations

import logging

from gantral.channels.slack.web import SlackUnavailable, SlackWeb
from gantral.settings.channels import ChannelIdentity, SlackSettings

__all__ = ["identify"]

log = logging.getLogger("gantral.channels.slack")


async def identify(settings: SlackSettings, web: SlackWeb, user_id: str) -> ChannelIdentity | None:
    """The user's identity; None: unmapped and in no configured group."""
    person = await _person(settings, web, user_id)
    try:
        groups = await web.groups.of(user_id)
    except SlackUnavailable as exc:
        # Fail closed: no group grants anything until Slack answers again.
        log.warning("Slack user groups unavailable (%s): no group roles granted", exc.code)
        groups = frozenset()
    grants = [settings.groups[key] for key in sorted(groups) if key in settings.groups]
    if not grants:
        return person
    who = person or ChannelIdentity(actor=f"slack:{user_id}")
    return who.model_copy(
        update={
            "roles": _union(who.roles, *(g.roles for g in grants)),
            "teams": _union(who.teams, *(g.teams for g in grants)),
        }
    )


async def _person(settings: SlackSettings, web: SlackWeb, user_id: str) -> ChannelIdentity | None:
    """By Slack user id, else by the e-mail `users.info` reports."""
    known = settings.users.get(user_id)
    if known is not None:
        return known
    if not settings.users_by_email:
        return None
    email = await web.user_email(user_id)
    by_email = {key.lower(): value for key, value in settings.users_by_email.items()}
    return by_email.get(email.lower()) if email else None


def _union(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(item for items in lists for item in items))

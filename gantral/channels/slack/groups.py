"""Members of the configured Slack user groups, read from Slack and kept briefly.

One refresh reads `usergroups.list` (the workspace's enabled groups: a configured handle
or id -> the group's id) and one `usergroups.users.list` per configured group. The
snapshot is kept `ttl` seconds from the moment it was read: a burst of clicks costs Slack
one refresh, and a removal from a group takes effect within `ttl`. One refresh runs at a
time. A failed refresh is not kept (the next lookup retries) and its error propagates, so
the caller grants nothing from groups (fail closed). A disabled or unknown group has no
members.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

__all__ = ["Read", "UserGroups"]

log = logging.getLogger("gantral.channels.slack")

# One Web API read method (GET, query parameters): Slack's answer, or raises.
Read = Callable[..., Awaitable[dict[str, Any]]]


def _names(key: str, group: dict[str, Any]) -> bool:
    """Does the configured `key` (an id, or a handle with or without @) name `group`?"""
    handle = str(group.get("handle") or "").lower()
    return key == group.get("id") or (bool(handle) and key.removeprefix("@").lower() == handle)


class UserGroups:
    def __init__(
        self,
        read: Read,
        wanted: Iterable[str],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._wanted = tuple(wanted)
        self._ttl = ttl
        self._clock = clock
        self._members: dict[str, frozenset[str]] = {}  # user id -> configured group keys
        self._expires = float("-inf")
        self._lock = asyncio.Lock()

    async def of(self, user_id: str) -> frozenset[str]:
        """The configured groups (keys as configured) `user_id` belongs to now."""
        if not self._wanted:
            return frozenset()
        async with self._lock:
            if self._clock() >= self._expires:
                read_at = self._clock()
                self._members = await self._fetch()
                self._expires = read_at + self._ttl
            return self._members.get(user_id, frozenset())

    async def _fetch(self) -> dict[str, frozenset[str]]:
        listed = await self._read("usergroups.list")
        ids: dict[str, str] = {}
        for group in listed.get("usergroups") or []:
            if isinstance(group, dict) and isinstance(group.get("id"), str):
                ids.update({key: group["id"] for key in self._wanted if _names(key, group)})
        missing = sorted(set(self._wanted) - set(ids))
        if missing:
            log.warning("Slack user groups not found or disabled: %s", ", ".join(missing))
        members: dict[str, set[str]] = {}
        for key, group_id in ids.items():
            answer = await self._read("usergroups.users.list", usergroup=group_id)
            for user in answer.get("users") or []:
                if isinstance(user, str):
                    members.setdefault(user, set()).add(key)
        return {user: frozenset(keys) for user, keys in members.items()}

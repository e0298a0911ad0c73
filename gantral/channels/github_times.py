"""When a GitHub delivery happened, read from its signed body (the headers are not signed).

GitHub signs only the body (`X-Hub-Signature-256`): `X-GitHub-Delivery` can be changed
freely, so a captured delivery replays under any id. What cannot be changed is the body,
and every event that can start work carries the time of its change in it. The triggers
de-duplicate on the body and refuse a delivery whose payload time is older than a window.

Per event, the payload fields read are `gantral.settings.channels.GITHUB_TIMESTAMP_FIELDS`
(dotted paths; ISO 8601 strings, or Unix seconds as `repository.pushed_at` is in `push`
payloads), beside the trigger settings that validate against it. The delivery's time is
the latest of the fields present; fields that are present but not a time make the
delivery unreadable. An event not listed there needs `timestamp_fields` on its trigger,
or the settings are refused at start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["UnreadableTime", "payload_time"]


class UnreadableTime(ValueError):
    """A listed field is present but holds no time."""


def _at(body: Any, path: str) -> Any:
    value = body
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _time(path: str, value: Any) -> datetime:
    if isinstance(value, bool):
        raise UnreadableTime(f"{path} is not a time")
    if isinstance(value, int):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise UnreadableTime(f"{path} is not a time") from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise UnreadableTime(f"{path} is not an ISO 8601 time") from exc
        if parsed.tzinfo is None:
            raise UnreadableTime(f"{path} has no time zone")
        return parsed
    raise UnreadableTime(f"{path} is not a time")


def payload_time(body: Mapping[str, Any], fields: Sequence[str]) -> datetime | None:
    """The latest time among `fields` present in `body` (None: none is present).

    Raises `UnreadableTime` when a present field holds no time."""
    times = [_time(path, value) for path in fields if (value := _at(body, path)) is not None]
    return max(times) if times else None

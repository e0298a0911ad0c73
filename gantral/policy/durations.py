"""Human-friendly durations used in policy files: `90s`, `30m`, `2h`, `1d`, `1h30m`, or
a number of seconds. They serialize back in the same compound form (`1h30m`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_NUMBER = r"\d+(?:\.\d+)?"
_BARE = re.compile(rf"^\s*({_NUMBER})\s*$")
_COMPOUND = re.compile(rf"^\s*(?:{_NUMBER}\s*[dhms]\s*)+$")
_PART = re.compile(rf"({_NUMBER})\s*([dhms])")
_SCHEMA_PATTERN = rf"^\s*(?:{_NUMBER}|(?:{_NUMBER}\s*[dhms]\s*)+)\s*$"
_MESSAGE = "duration must be like '30m', '90s', '2h', '1d', '1h30m' or a number of seconds"


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(_MESSAGE)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (bare := _BARE.match(value)):
        seconds = float(bare.group(1))
    elif isinstance(value, str) and _COMPOUND.match(value):
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    else:
        raise ValueError(_MESSAGE)
    if seconds <= 0:
        raise ValueError("duration must be positive")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The compound form, largest unit first: 5400s -> `1h30m`; fractions stay in seconds."""
    seconds = value.total_seconds()
    whole = int(seconds)
    parts = []
    for unit, size in _UNITS.items():
        if unit == "s":
            break
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    rest = whole + (seconds - int(seconds))
    if rest or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _SCHEMA_PATTERN},
                {"type": "number", "exclusiveMinimum": 0},
            ],
            "description": "A duration: '90s', '30m', '2h', '1d', '1h30m', or seconds.",
        },
        mode="validation",
    ),
]

"""Human-friendly durations used in policy files and settings: `90s`, `30m`, `2h`, `1d`,
`1h30m`, or a number of seconds. They serialize back in the same compound form (`1h30m`).
Here, in the settings package, because settings import no other area; policies use it too.

What is accepted is exactly one published pattern (`DURATION_PATTERN`, also the JSON
Schema's), so a client generated from the schema never sends a duration the API refuses:

- a bare number of seconds, at most 8 integer digits (`45`, `12.5`);
- or parts in the order d, h, m, s, each unit at most once (`1d 2h`, `1h30m`). The first
  part has at most 4 (d), 5 (h), 6 (m) or 8 (s) integer digits; a later part stays below
  its next unit (h < 24, m and s < 60); only the last part may have a fraction;
- every number is positive (no `0m`, no zero part), fractions are at most microseconds
  (6 digits, or `0.` then a non-zero digit within the first six), no leading zeros but
  one before a later part (`1h05m`); spaces only (no tabs) around parts.

Every such string is below 10,000 days, and so is every number accepted (JSON numbers from
0.000001 to below 864,000,000 seconds): nothing overflows date arithmetic, and what
`format_duration` writes back always matches the pattern again.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_DAYS = 10_000
_MAX_SECONDS = MAX_DAYS * 86400  # exclusive
_MIN_SECONDS = 0.000001

_FRACTION = r"\.[0-9]{1,6}"
_SMALL = r"0\.[0-9]{0,5}[1-9][0-9]{0,5}"  # 0.5, 0.000001, 0.25: positive, at least 1 µs
_LEAD_DIGITS = {"d": 4, "h": 5, "m": 6, "s": 8}
_TRAIL = {"h": r"(?:0?[1-9]|1[0-9]|2[0-3])", "m": r"(?:0?[1-9]|[1-5][0-9])"}
_TRAIL["s"] = _TRAIL["m"]


def _lead(unit: str) -> str:
    return rf"[1-9][0-9]{{0,{_LEAD_DIGITS[unit] - 1}}}"


def _rest(index: int) -> str:
    """The optional parts after unit `index`: whole numbers, a fraction only on the last."""
    units = list(_UNITS)[index + 1 :]
    if not units:
        return ""
    unit, later = units[0], _rest(index + 1)
    whole = rf" *{_TRAIL[unit]} *{unit}{later}"
    last = rf" *(?:{_TRAIL[unit]}{_FRACTION}|{_SMALL}) *{unit}"
    return f"(?:{whole}|{last}|{later})" if later else f"(?:{whole}|{last})?"


def _compound() -> str:
    forms = []
    for index, unit in enumerate(_UNITS):
        forms.append(rf"{_lead(unit)} *{unit}{_rest(index)}")
        forms.append(rf"(?:{_lead(unit)}{_FRACTION}|{_SMALL}) *{unit}")
    return "|".join(forms)


_BARE = rf"{_lead('s')}(?:{_FRACTION})?|{_SMALL}"
DURATION_PATTERN = rf"^ *(?:{_BARE}|{_compound()}) *$"
"""A positive duration, as a JSON Schema pattern: exactly what `parse_duration` accepts
as a string (`[0-9]` and spaces, so ECMA-262 and Python read it alike)."""
_ACCEPTED = re.compile(DURATION_PATTERN)
_BARE_NUMBER = re.compile(r"^ *([0-9.]+) *$")
_PART = re.compile(r"([0-9.]+) *([dhms])")
_MESSAGE = (
    "duration must be like '30m', '90s', '2h', '1d', '1h30m' (units in that order, each "
    "positive, a later one below the next unit) or a positive number of seconds"
)


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(_MESSAGE)
    if isinstance(value, int | float):
        # Compared as given (a huge int never becomes a float that overflows).
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(_MESSAGE)
        if value < _MIN_SECONDS:
            raise ValueError("duration must be at least 0.000001 seconds")
        if value >= _MAX_SECONDS:
            raise ValueError(f"duration must be below {_MAX_SECONDS} seconds ({MAX_DAYS} days)")
        return _microseconds(Decimal(value) * 1_000_000)
    if not isinstance(value, str) or not _ACCEPTED.fullmatch(value):
        raise ValueError(_MESSAGE)
    bare = _BARE_NUMBER.match(value)
    parts = [(bare.group(1), "s")] if bare else _PART.findall(value)
    return _microseconds(
        sum((Decimal(n) * _UNITS[unit] * 1_000_000 for n, unit in parts), Decimal(0))
    )


def _microseconds(exact: Decimal) -> timedelta:
    # timedelta's resolution. A number a hair below the maximum stays below it, so its
    # compound form still matches the pattern.
    micros = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    return timedelta(microseconds=min(max(micros, 1), _MAX_SECONDS * 1_000_000 - 1))


def format_duration(value: timedelta) -> str:
    """The compound form, largest unit first: 5400s -> `1h30m`; fractions stay in seconds
    (to the microsecond, never in exponent notation)."""
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    whole, fraction = divmod(micros, 1_000_000)
    parts = []
    for unit, size in _UNITS.items():
        if unit == "s":
            break
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    if whole or fraction or not parts:
        text = f"{whole}.{fraction:06d}".rstrip("0").rstrip(".") if fraction else f"{whole}"
        parts.append(f"{text}s")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {
                    "type": "number",
                    "minimum": _MIN_SECONDS,
                    "exclusiveMaximum": _MAX_SECONDS,
                },
            ],
            "description": "A duration: '90s', '30m', '2h', '1d', '1h30m' (units in that "
            "order, a later one below the next unit, fraction on the last only), or "
            f"seconds; below {MAX_DAYS} days.",
        },
        mode="validation",
    ),
]

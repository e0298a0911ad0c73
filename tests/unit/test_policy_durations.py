"""Durations in policy files: exactly the published pattern, and what is written back
always reads again."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gantral.settings.durations import DURATION_PATTERN, MAX_DAYS, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1h05m", 3900),
        ("1d 2h", 93600),
        ("45", 45),
        (12.5, 12.5),
        ("0.5m", 30),
        ("1h0.25s", 3600.25),
        ("0.000001s", 0.000001),
        ("9999d23h59m59.999999s", MAX_DAYS * 86400 - 0.000001),
        (10**6, 10**6),
    ],
)
def test_parse(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "m",
        "30x",
        "-5m",
        "0",
        True,
        None,
        "1h-30m",
        "h30",
        "0m0s",
        "1h0m",  # a zero part
        "30m1h",  # units out of order
        "1d1d",  # a unit twice
        "1d 36h",  # a later part past its next unit
        "1.5h30m",  # a fraction before the last part
        "10000d",  # past the maximum
        "999999999",
        "0.0000001s",  # below a microsecond
        "1e-06s",
        "\t30m",
        "30m\n",
        "٣s",  # a digit, but not [0-9]
        0,
        1e-7,
        MAX_DAYS * 86400,
        8.288732723627061e307,
        float("inf"),
        10**400,
    ],
)
def test_parse_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (90, "1m30s"),
        (5400, "1h30m"),
        (86400, "1d"),
        (0.5, "0.5s"),
        (3600.25, "1h0.25s"),
        (0.000001, "0.000001s"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@given(st.integers(min_value=1, max_value=MAX_DAYS * 86400 * 10**6 - 1))
def test_round_trip(micros: int) -> None:
    value = timedelta(microseconds=micros)
    text = format_duration(value)
    assert re.fullmatch(DURATION_PATTERN, text), text
    assert parse_duration(text) == value


@given(st.from_regex(DURATION_PATTERN, fullmatch=True))
def test_every_string_the_schema_allows_is_accepted(text: str) -> None:
    value = parse_duration(text)
    assert timedelta(0) < value < timedelta(days=MAX_DAYS)
    assert re.fullmatch(DURATION_PATTERN, format_duration(value))


@given(st.floats(min_value=0.000001, max_value=MAX_DAYS * 86400, exclude_max=True))
def test_every_number_the_schema_allows_is_accepted(seconds: float) -> None:
    assert re.fullmatch(DURATION_PATTERN, format_duration(parse_duration(seconds)))

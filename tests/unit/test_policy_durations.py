"""Durations in policy files."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gantral.policy.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1d 2h", 93600),
        ("45", 45),
        (12.5, 12.5),
        ("0.5m", 30),
    ],
)
def test_parse(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "m", "30x", "-5m", "0", True, None, "1h-30m", "h30"])
def test_parse_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(90, "1m30s"), (5400, "1h30m"), (86400, "1d"), (0.5, "0.5s"), (3600.25, "1h0.25s")],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@given(st.integers(min_value=1, max_value=10**8))
def test_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value

"""The callback URL rule and its published pattern say the same thing: what a client
generated from the schema sends is accepted, and what the pattern refuses is refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gantral.domain.callback_url import (
    CALLBACK_URL_PATTERN,
    MAX_CALLBACK_URL,
    callback_url_problem,
)


@given(st.from_regex(CALLBACK_URL_PATTERN, fullmatch=True).filter(lambda u: len(u) <= 2000))
def test_every_url_the_schema_allows_is_accepted(url: str) -> None:
    assert callback_url_problem(url) is None


@given(st.text(max_size=60) | st.from_regex(r"https?://[^ ]{0,30}", fullmatch=True))
def test_nothing_outside_the_pattern_is_accepted(url: str) -> None:
    if not re.fullmatch(CALLBACK_URL_PATTERN, url) or len(url) > MAX_CALLBACK_URL:
        assert callback_url_problem(url) is not None


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/x?y#z", "http://localhost:8080/cb", "http://127.0.0.1/",
     "http://[::1]:9/", "https://a:65535", "https://a/é"],
)  # fmt: skip
def test_accepted(url: str) -> None:
    assert callback_url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    ["0000", "https://a:65536", "http://example.com/", "https://u:p@a/", "https://a/\u00a0",
     "HTTPS://a/", "https://a_b/", "https://a:/x", "http://127.0.0.256/", "https://a/\x85"],
)  # fmt: skip
def test_refused(url: str) -> None:
    assert callback_url_problem(url) is not None

"""The callback allow-list compares URLs, not strings (issue 21, item 5): scheme, host and
port exactly, the path segment by segment, and refuses what servers could read otherwise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gantral.settings.callback_urls import prefix_problem, url_problem
from gantral.settings.callbacks import CallbackSettings, CallbackURLs

PREFIX = "http://host/hooks/"


@pytest.mark.parametrize(
    "url",
    [
        "http://host/hooks/deploy",
        "http://host/hooks/a/b?x=1&y=..",
        "http://HOST/hooks/deploy",  # hosts are case-insensitive
        "HTTP://host/hooks/deploy",
        "http://host:80/hooks/deploy",  # the default port made explicit
        "http://host/hooks/",
        "http://host/hooks/a%20b",
        "http://host/hooks/v1.2/..x/.hidden",  # dots inside a segment are not dot segments
    ],
)
def test_urls_under_the_prefix_are_allowed(url: str) -> None:
    assert url_problem(url, [PREFIX]) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://host/hooks/../escaped",  # the escape
        "http://host/hooks/./deploy",
        "http://host/hooks/deploy/..",
        "http://host/hooks/%2e%2e/escaped",
        "http://host/hooks/%2E%2E/escaped",
        "http://host/hooks/%2e%2E/escaped",
        "http://host/hooks/.%2e/escaped",
        "http://host/hooks/%2e./escaped",
        "http://host/hooks/%2e/deploy",
        "http://host/hooks/%252e%252e/escaped",  # decoded twice by some stacks
        "http://host/hooks/..%2fescaped",
        "http://host/hooks/a%2Fb",
        "http://host/hooks/..;/escaped",  # `..` to servers that strip path parameters
        "http://host/hooks/..\\escaped",
        "http://host/hooks\\..\\escaped",
        "http://host/hooks//deploy",
        "http://user@host/hooks/deploy",
        "http://user:pw@host/hooks/deploy",
        "http://evil@host/hooks/deploy",
        "http://host.evil.example/hooks/deploy",
        "http://host./hooks/deploy",
        "http://hostx/hooks/deploy",
        "http://host:8080/hooks/deploy",
        "https://host/hooks/deploy",  # another scheme is another origin
        "http://host/hooksevil/deploy",
        "http://host/hooks",  # the prefix's folder itself is not below it
        "http://host/other/hooks/deploy",
        "http://host/hooks/deploy#frag",
        "http://host/hooks/de ploy",
        "http://host/hooks/d\u00e9ploy",
        "http://host/hooks/\x00",
        "ftp://host/hooks/deploy",
        "http:///hooks/deploy",
        "http://host:99999/hooks/deploy",
        "//host/hooks/deploy",
        "",
    ],
)
def test_escapes_and_look_alikes_are_refused(url: str) -> None:
    assert url_problem(url, [PREFIX]) is not None


def test_a_prefix_without_a_trailing_slash_matches_whole_segments() -> None:
    assert url_problem("https://h/hooks", ["https://h/hooks"]) is None
    assert url_problem("https://h/hooks/x", ["https://h/hooks"]) is None
    assert url_problem("https://h/hooksevil", ["https://h/hooks"]) is not None
    assert url_problem("https://h/anything", ["https://h/"]) is None
    assert url_problem("https://h", ["https://h/"]) is None


def test_nothing_is_allowed_without_prefixes() -> None:
    problem = url_problem("https://h/x", [])
    assert problem is not None and "ALLOWED_URL_PREFIXES" in problem


@pytest.mark.parametrize(
    "prefix",
    [
        "https://",
        "hooks.example.com/",
        "ftp://x/",
        "https://h",
        "https://h/../x/",
        "https://h/%2e%2e/",
        "https://u@h/",
        "https://h/x?y=1",
        "https://h/x#y",
        "https://h\\x/",
    ],
)
def test_unusable_prefixes_are_refused_at_load(prefix: str) -> None:
    assert prefix_problem(prefix) is not None
    with pytest.raises(ValidationError):
        CallbackSettings(allowed_url_prefixes=[prefix])
    with pytest.raises(ValidationError):
        CallbackURLs(allowed_url_prefixes=[prefix])


def test_prefixes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON array, or a plain URL (or several, comma or space separated): the API and
    the worker read the same list."""
    from gantral.settings import Settings

    for raw, expected in [
        ('["https://a/x/", "https://b/"]', ["https://a/x/", "https://b/"]),
        ("https://a/x/", ["https://a/x/"]),
        ("https://a/x/, https://b/", ["https://a/x/", "https://b/"]),
        ("", []),
    ]:
        monkeypatch.setenv("GANTRAL_CALLBACKS__ALLOWED_URL_PREFIXES", raw)
        assert CallbackSettings().allowed_url_prefixes == expected
        assert Settings().callbacks.allowed_url_prefixes == expected

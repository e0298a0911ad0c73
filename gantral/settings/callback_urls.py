"""Whether a callback URL is inside the allow-list: compared as URLs, never as strings.

A string prefix is no wall: `http://host/hooks/../admin` starts with `http://host/hooks/`
and most HTTP stacks (and every proxy) resolve it to `/admin`. So a URL and each allowed
prefix are split and compared part by part: scheme, host and port exactly (the port made
explicit), and the path segment by segment. Anything a server or a proxy could read in
another way than this module does is refused outright rather than normalized: dot
segments (`.`, `..`, raw or percent-encoded in any case, or hidden behind `;`), encoded
slashes, backslashes or percent signs, empty segments, user info, fragments, whitespace,
control and non-ASCII characters.

    url_problem(url, prefixes) -> str | None   # None: the URL may be called
    prefix_problem(prefix)     -> str | None   # None: a usable allow-list entry
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["prefix_problem", "url_problem"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Printable ASCII without space: RFC 3986 has everything else percent-encoded.
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
# Percent-encoded characters that change how a path is split or resolved once decoded:
# `.` (%2e), `/` (%2f), `\` (%5c) and `%` itself (%25, a second decoding's way in).
_ENCODED_SEPARATOR = re.compile(r"%(2e|2f|5c|25)", re.IGNORECASE)


@dataclass(frozen=True)
class _Parts:
    scheme: str
    host: str
    port: int
    segments: tuple[str, ...]
    trailing_slash: bool


def _parse(url: str, *, what: str) -> _Parts | str:
    """The URL's parts, or why it is refused."""
    if url.split(":", 1)[0].lower() not in _DEFAULT_PORTS:
        return f"{what} must name a scheme, a host and a path (http or https)"
    if not _PRINTABLE.match(url):
        return f"{what} has whitespace, control or non-ASCII characters"
    if "\\" in url:
        return f"{what} has a backslash"
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError as exc:
        return f"{what} is not a valid URL ({exc})"
    scheme = split.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return f"{what} must name a scheme, a host and a path (http or https)"
    if "@" in split.netloc:
        return f"{what} must not carry user info (user:password@)"
    if not split.hostname:
        return f"{what} must name a scheme, a host and a path (it names no host)"
    if split.fragment or url.endswith("#"):
        return f"{what} must not have a fragment"
    path = split.path or "/"
    if not path.startswith("/"):
        return f"{what} has a relative path"
    if _ENCODED_SEPARATOR.search(path):
        return f"{what} has a percent-encoded '.', '/', '\\' or '%' in its path"
    segments = path[1:].split("/")
    trailing = path.endswith("/")
    if trailing:
        segments = segments[:-1]
    for segment in segments:
        if segment == "":
            return f"{what} has an empty path segment ('//')"
        # `..;x` is `..` to servers that strip path parameters (Tomcat, Spring).
        if unquote(segment.split(";", 1)[0]) in (".", ".."):
            return f"{what} has a dot segment ('.' or '..') in its path"
    return _Parts(
        scheme=scheme,
        host=split.hostname.lower(),
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        segments=tuple(segments),
        trailing_slash=trailing,
    )


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot be an allow-list entry (None: it can)."""
    parts = _parse(prefix, what=f"allowed URL prefix {prefix!r}")
    if isinstance(parts, str):
        return parts
    if "?" in prefix:
        return f"allowed URL prefix {prefix!r} must not have a query"
    if prefix.count("/") < 3:
        return (
            f"allowed URL prefix {prefix!r} must name a scheme, a host and a path "
            "(e.g. https://hooks.example.com/)"
        )
    return None


def _inside(url: _Parts, prefix: _Parts) -> bool:
    if (url.scheme, url.host, url.port) != (prefix.scheme, prefix.host, prefix.port):
        return False
    n = len(prefix.segments)
    if url.segments[:n] != prefix.segments:
        return False
    # `https://h/hooks/` allows what is below /hooks/ (not /hooks itself); `https://h/hooks`
    # allows /hooks and what is below it. Whole segments either way: never /hooksevil.
    return not prefix.trailing_slash or len(url.segments) > n or url.trailing_slash


def url_problem(url: str, prefixes: Sequence[str]) -> str | None:
    """Why Gantral must not call `url` (None: it is under one of `prefixes`)."""
    if not prefixes:
        return "no callback URL is allowed here (GANTRAL_CALLBACKS__ALLOWED_URL_PREFIXES is empty)"
    parts = _parse(url, what="the callback URL")
    if isinstance(parts, str):
        return parts
    for prefix in prefixes:
        allowed = _parse(prefix, what="prefix")
        if not isinstance(allowed, str) and _inside(parts, allowed):
            return None
    return "the callback URL is not under an allowed URL prefix"

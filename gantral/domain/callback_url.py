"""The one rule for a callback URL an agent names when it starts an instance, whether in
the start request's `callback_url` or (the older way) under `gantral:callback_url` in its
trigger context.

`https://` to any host; `http://` only to this machine (a loopback address or
`localhost`), as RFC 8252 §7.3 allows for OAuth redirect URIs: a webhook names who
decided, and plain HTTP off the machine would show it to the network. No user or
password in the URL (it is written to the audit log), no whitespace, at most
`MAX_CALLBACK_URL` characters. `CALLBACK_URL_PATTERN` says the same as one regular
expression (the published schema's): a host name or IPv4 address for https://,
`localhost`, `127.x.x.x` or `[::1]` for http://, a port up to 65535. Where a callback
may actually go is the operator's allow-list (`GANTRAL_CALLBACKS__ALLOWED_URL_PREFIXES`),
checked at delivery.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

__all__ = [
    "CALLBACK_CONTEXT_KEY",
    "CALLBACK_URL_PATTERN",
    "MAX_CALLBACK_URL",
    "callback_url_problem",
]

CALLBACK_CONTEXT_KEY = "gantral:callback_url"
MAX_CALLBACK_URL = 2000

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PORT = r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_LOOPBACK = rf"(?:localhost|127(?:\.{_OCTET}){{3}}|\[::1\])"
# What str.isspace() and the control-character check refuse, spelled for ECMA-262 too.
_PATH_CHAR = r"[^\x00-\x20\x7f-\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
CALLBACK_URL_PATTERN = rf"^(?:https://{_HOST}|http://{_LOOPBACK}){_PORT}(?:[/?#]{_PATH_CHAR}*)?$"
"""Every callback URL accepted, as a JSON Schema pattern (ECMA-262 and Python alike)."""
_ACCEPTED = re.compile(CALLBACK_URL_PATTERN)


def callback_url_problem(url: object) -> str | None:
    """What is wrong with `url` as a callback URL, or None when it may be named."""
    if not isinstance(url, str):
        return "must be a string"
    if len(url) > MAX_CALLBACK_URL:
        return f"must be at most {MAX_CALLBACK_URL} characters"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "must not contain whitespace or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an absolute https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user or password"
    if parts.scheme == "http" and not _loopback(host):
        return "must use https:// (http:// only to a loopback address or localhost)"
    if not _ACCEPTED.fullmatch(url):
        return (
            "must be https:// to a host name or IPv4 address (http:// only to localhost, "
            "127.x.x.x or [::1]), an optional port up to 65535, then a path, query or fragment"
        )
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

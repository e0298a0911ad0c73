"""Canonical digests: RFC 8785 (JCS) canonical JSON, hashed with SHA-256."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

# RFC 8785's integer domain (IEEE 754 doubles represent these exactly).
_INT_MAX = 2**53 - 1


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 serialization of `value`. Audit hashes, attestations and fingerprints
    are computed on every call, so the common case goes through the standard library's C
    encoder, whose output is the same bytes (tests/unit/test_digest_canonical.py checks
    it against the reference implementation); anything else goes through that."""
    if _plain(value):
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            return text.encode()
        except UnicodeEncodeError:
            pass  # a lone surrogate: refused below, as RFC 8785 says
    return bytes(rfc8785.dumps(value))


def _plain(value: Any) -> bool:
    """Whether `json.dumps` writes `value` as RFC 8785 does: only exact dicts, lists,
    tuples, strings, booleans, None and integers in the RFC's domain, with ASCII keys.
    Floats (ECMAScript number formatting), other key characters (RFC 8785 sorts keys by
    UTF-16 code units, Python by code points) and subclasses (enums) are left to the
    reference implementation."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii():
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is int:
            if not -_INT_MAX <= item <= _INT_MAX:
                return False
        else:
            return False
    return True


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def args_digest(action: str, arguments: dict[str, Any]) -> str:
    """The digest an approval binds to: the action together with its exact arguments."""
    return "sha256:" + sha256_hex({"action": action, "arguments": arguments})

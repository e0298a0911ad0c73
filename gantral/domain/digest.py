"""Canonical digests: RFC 8785 (JCS) canonical JSON, hashed with SHA-256."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_bytes(value: Any) -> bytes:
    return bytes(rfc8785.dumps(value))


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def args_digest(action: str, arguments: dict[str, Any]) -> str:
    """The digest an approval binds to: the action together with its exact arguments."""
    return "sha256:" + sha256_hex({"action": action, "arguments": arguments})

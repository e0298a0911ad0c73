"""The digest a grant binds to, computed here over the arguments the agent will run.

The same function as the server's (`gantral.domain.digest.args_digest`, a test checks the
two agree): SHA-256 over the RFC 8785 (JCS) canonical JSON of `{"action", "arguments"}`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def args_digest(action: str, arguments: dict[str, Any]) -> str:
    """The digest an approval binds to: the action together with its exact arguments."""
    canonical = bytes(rfc8785.dumps({"action": action, "arguments": arguments}))
    return "sha256:" + hashlib.sha256(canonical).hexdigest()

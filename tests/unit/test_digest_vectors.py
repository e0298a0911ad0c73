"""The server's argument digest against the shared known-answer vectors (specs/).

The same file is checked by the TypeScript and Go SDKs, so a grant computed by the server
and a digest computed by any SDK agree byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from gantral.domain.digest import args_digest, canonical_bytes

VECTORS = json.loads(
    (Path(__file__).parents[2] / "specs" / "digest-vectors.json").read_text(encoding="utf-8")
)


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=_ids(VECTORS["vectors"]))
def test_canonical_bytes_and_digest(vector: dict[str, Any]) -> None:
    value = {"action": vector["action"], "arguments": vector["arguments"]}
    canonical = canonical_bytes(value)
    assert canonical == vector["canonical"].encode("utf-8")
    assert hashlib.sha256(canonical).hexdigest() == vector["sha256"]
    assert args_digest(vector["action"], vector["arguments"]) == vector["args_digest"]
    assert vector["args_digest"] == "sha256:" + vector["sha256"]


@pytest.mark.parametrize("vector", VECTORS["refused"], ids=_ids(VECTORS["refused"]))
def test_unsafe_integers_are_refused(vector: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        args_digest(vector["action"], vector["arguments"])


def test_vectors_cover_the_tricky_cases() -> None:
    """Guard against the file being trimmed to easy cases."""
    text = "\n".join(v["canonical"] for v in VECTORS["vectors"])
    needles = ("1e+21", "5e-324", "0.30000000000000004", "\\u0000", "\\b", "\U0001f600", "\ufb33")
    for needle in needles:
        assert needle in text
    assert len(VECTORS["vectors"]) >= 10 and len(VECTORS["refused"]) >= 2

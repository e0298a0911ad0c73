"""Data minimization: fields removed from context snapshots before they are stored.

Paths are a small JSONPath subset: `$`, `.name`, `["any name"]`, `[3]` and `[*]`.
A matched object member is removed; a matched array element is replaced by null so the
other indices keep their meaning. The concrete paths removed are returned so the
redaction itself is recorded (in the snapshot reference, hence in the chain).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

__all__ = ["RedactionError", "parse_path", "redact"]

Segment = str | int | None  # member name, array index, or None for `[*]`

_TOKEN = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_\-]*)|\[\*\]|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]""")


class RedactionError(ValueError):
    """A redaction path that cannot be parsed."""


def parse_path(path: str) -> list[Segment]:
    if not path.startswith("$"):
        raise RedactionError(f"redaction path must start with $: {path!r}")
    segments: list[Segment] = []
    pos = 1
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None:
            raise RedactionError(f"cannot parse redaction path {path!r} at offset {pos}")
        name, index, quoted = match.groups()
        if name is not None:
            segments.append(name)
        elif index is not None:
            segments.append(int(index))
        elif quoted is not None:
            segments.append(str(json.loads(quoted)))
        else:
            segments.append(None)
        pos = match.end()
    if not segments:
        raise RedactionError("redacting the whole snapshot ($) is not supported")
    return segments


def _render(segments: list[str | int]) -> str:
    out = "$"
    for seg in segments:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", seg):
            out += f".{seg}"
        else:
            out += f"[{json.dumps(seg, ensure_ascii=False)}]"
    return out


def _apply(node: Any, segments: list[Segment], at: list[str | int], hits: list[str]) -> None:
    head, rest = segments[0], segments[1:]
    if isinstance(node, dict):
        keys = list(node) if head is None else ([head] if head in node else [])
        for key in keys:
            if not isinstance(key, str):
                continue
            if rest:
                _apply(node[key], rest, [*at, key], hits)
            else:
                del node[key]
                hits.append(_render([*at, key]))
    elif isinstance(node, list):
        indices = range(len(node)) if head is None else [head]
        for i in indices:
            if not isinstance(i, int) or not 0 <= i < len(node):
                continue
            if rest:
                _apply(node[i], rest, [*at, i], hits)
            elif node[i] is not None:
                node[i] = None
                hits.append(_render([*at, i]))


def redact(snapshot: dict[str, Any], paths: list[str]) -> tuple[dict[str, Any], list[str]]:
    """A redacted deep copy and the sorted concrete paths that were removed."""
    result = copy.deepcopy(snapshot)
    hits: list[str] = []
    for path in paths:
        _apply(result, parse_path(path), [], hits)
    return result, sorted(set(hits))

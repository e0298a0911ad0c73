"""README's "A decision, hop by hop" names real code: every `file:function` it cites is a
file of the repository that defines that function (or class, or method). Moving or
renaming one fails here until the README follows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## A decision, hop by hop"
# `path/to/file.py:Name` or `path/to/file.py:Class.method`
HOP = re.compile(r"`([\w/]+\.py):([\w.]+)`")


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)]


def _defines(tree: ast.Module, qualname: str) -> bool:
    """Whether the module defines `qualname` (top level, or nested in classes)."""
    scope: list[ast.stmt] = tree.body
    for part in qualname.split("."):
        found = next(
            (
                node
                for node in scope
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == part
            ),
            None,
        )
        if found is None:
            return False
        scope = found.body
    return True


def test_every_hop_names_a_definition_that_exists() -> None:
    hops = HOP.findall(_section())
    # Route, edge, authz, core, validator, handler, state, outbox, activity, sink, commit.
    assert len(hops) >= 11
    missing = []
    for path, qualname in hops:
        file = ROOT / path
        if not file.is_file() or not _defines(ast.parse(file.read_text()), qualname):
            missing.append(f"{path}:{qualname}")
    assert missing == []


def test_the_check_fails_for_a_name_that_is_not_defined() -> None:
    tree = ast.parse("class A:\n    def b(self) -> None: ...\n\ndef c() -> None: ...\n")
    assert _defines(tree, "A.b") and _defines(tree, "c") and _defines(tree, "A")
    assert not _defines(tree, "A.c") and not _defines(tree, "b") and not _defines(tree, "c.b")

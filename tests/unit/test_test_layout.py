"""No test module imports another test module: what two test files share lives in
tests/helpers/ (fixtures in a conftest.py), so each test file can be read, run and moved
alone, and importing one never collects or re-runs another's tests."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def _is_test_module(dotted: str) -> bool:
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def _imported_test_modules(tree: ast.Module) -> list[str]:
    """Modules named test_* that the file imports, at any depth (function-level too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if _is_test_module(base):
                found.append(base)
            # `from tests.integration import test_governance`
            found += [f"{base}.{a.name}" for a in node.names if _is_test_module(a.name)]
    return found


def offenders(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [f"{path.relative_to(root)} imports {m}" for m in _imported_test_modules(tree)]
    return found


def test_no_test_module_imports_another() -> None:
    found = offenders(TESTS)
    assert not found, "move what they share to tests/helpers/:\n" + "\n".join(found)


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    forms = [
        "import tests.unit.test_a",
        "from tests.integration.test_b import helper",
        "from tests.integration import test_c as c",
        "def f():\n    from .test_d import x",
    ]
    for i, source in enumerate(forms):
        (tmp_path / f"test_form_{i}.py").write_text(source + "\n")
    (tmp_path / "test_clean.py").write_text("from tests.helpers.auth import AGENT\n")
    assert len(offenders(tmp_path)) == len(forms)

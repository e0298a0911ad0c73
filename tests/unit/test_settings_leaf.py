"""`gantral.settings` is a leaf: its modules import nothing of Gantral outside the package,
so any area may import the settings and none is imported back (no cycle runs through
them). Read from the source, so a function-level import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import gantral.settings
from gantral.domain.ijson import MAX_DEPTH
from gantral.settings import ApiSettings

PACKAGE = Path(gantral.settings.__file__).parent


def _gantral_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            found.append(node.module or "")
    return [name for name in found if name == "gantral" or name.startswith("gantral.")]


def test_settings_import_no_gantral_area() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert {p.name for p in modules} >= {"__init__.py", "root.py", "audit.py", "identity.py"}
    outside = {
        f"{path.name}: {name}"
        for path in modules
        for name in _gantral_imports(path)
        if name != "gantral.settings" and not name.startswith("gantral.settings.")
    }
    assert not outside, sorted(outside)


def test_the_walk_sees_an_area_import(tmp_path: Path) -> None:
    # The check above would pass on a walk that finds nothing.
    module = tmp_path / "m.py"
    module.write_text(
        "import gantral.audit.note\nfrom gantral.settings import x\n"
        "def f():\n    from gantral.policy import durations\n"
    )
    assert _gantral_imports(module) == [
        "gantral.audit.note",
        "gantral.settings",
        "gantral.policy",
    ]


def test_api_json_depth_default_is_the_decoder_limit() -> None:
    # Written as a number in the settings (they import no area): held equal here.
    assert ApiSettings().max_json_depth == MAX_DEPTH

"""The `gantral` command: one module per command group (`audit`, `policy`, `requests`,
`hook`, ...), wired into the root app in `gantral.cli.root`. Domain packages never
import these modules.

`app` and `main` (the console script, `gantral.cli:main`) are loaded on first use, so
importing one command group (the coding-agent hook runs on every tool call) does not
import every other group's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gantral.cli.root import app, main

__all__ = ["app", "main"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from gantral.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

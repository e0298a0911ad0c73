"""Generated artefacts under `specs/`: each one rendered from the code it describes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gantral.domain.state_doc import render_state_machine_markdown

GENERATED: dict[str, Callable[[], str]] = {
    "state-machine.md": render_state_machine_markdown,
}


def write_specs(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, render in GENERATED.items():
        path = directory / name
        path.write_text(render())
        written.append(path)
    return written

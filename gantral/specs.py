"""Generated artefacts under `specs/`: each one rendered from the code it describes."""

from __future__ import annotations

import json
from pathlib import Path

from gantral import python_sdk_types
from gantral.domain.audit_payloads import payload_schema
from gantral.domain.state_doc import render_state_machine_markdown
from gantral.errors import Reason
from gantral.policy.schema import render_schemas


def render_openapi() -> str:
    from gantral.api.app import create_app

    return json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"


def render_reasons() -> str:
    """Every reason the server can answer, with what it means (`gantral.errors.Reason`)."""
    return json.dumps({r.value: r.description for r in Reason}, indent=2, sort_keys=True) + "\n"


def render_all() -> dict[str, str]:
    """File name under `specs/` -> its expected content."""
    return {
        "state-machine.md": render_state_machine_markdown(),
        "openapi.json": render_openapi(),
        "reasons.json": render_reasons(),
        "audit-events.schema.json": json.dumps(payload_schema(), indent=2, sort_keys=True) + "\n",
        **render_schemas(),
    }


def write_specs(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_all().items():
        path = directory / name
        path.write_text(content)
        written.append(path)
    if (
        directory.resolve() == python_sdk_types.SPEC.parent
        and python_sdk_types.TARGET.parent.is_dir()
    ):
        # The repository's own specs: the Python SDK's models follow the OpenAPI document
        # just written (the TypeScript and Go types: `make sdk-types`).
        python_sdk_types.TARGET.write_text(python_sdk_types.rendered())
        written.append(python_sdk_types.TARGET)
    return written

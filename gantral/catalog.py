"""Workflow templates available to start instances from, read from a directory of YAML/JSON.

Each file holds one template version; a template id may have many versions. An instance
pins the resolved version (and its content hash) in its start input.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError

from gantral.domain.templates import WorkflowTemplate
from gantral.errors import InvalidInput, NotFound


def load_template_file(path: Path) -> WorkflowTemplate:
    try:
        text = path.read_text()
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return WorkflowTemplate.model_validate(raw)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path}: not valid YAML/JSON: {exc}", reason="unparseable") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"{path}: {field}: {first['msg']}", reason="invalid_template", field=field
        ) from exc


class TemplateCatalog:
    """Templates from a directory, re-read on every resolve so new files apply immediately."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def _all(self) -> list[WorkflowTemplate]:
        if not self._directory.is_dir():
            return []
        files = sorted(
            p for p in self._directory.iterdir() if p.suffix in {".yaml", ".yml", ".json"}
        )
        return [load_template_file(p) for p in files]

    def resolve(self, workflow_id: str, version: int | None = None) -> WorkflowTemplate:
        versions = [t for t in self._all() if t.id == workflow_id]
        if not versions:
            raise NotFound(f"unknown workflow {workflow_id!r}", reason="unknown_workflow")
        if version is None:
            return max(versions, key=lambda t: t.version)
        for template in versions:
            if template.version == version:
                return template
        raise NotFound(
            f"workflow {workflow_id!r} has no version {version}", reason="unknown_version"
        )

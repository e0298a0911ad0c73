"""The framework examples under examples/integrations, loaded as modules, and the
deploy-service workflow they run against (under an id of the test's own)."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

import httpx
import yaml

from tests.helpers.auth import ADMIN
from tests.helpers.session import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = ROOT / "examples" / "integrations"
TEMPLATE = TEMPLATES / "deploy.yaml"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def deploy_workflow(api: httpx.AsyncClient) -> str:
    """The examples' deploy-service shape (a free `plan`, a TECH_LEAD `deploy`), under an
    id of this test's own."""
    wid = f"deploy-{uuid.uuid4().hex[:8]}"
    template = yaml.safe_load(TEMPLATE.read_text()) | {"id": wid}
    headers = {"Content-Type": "application/yaml", **ADMIN}
    resp = await api.put(f"/v1/workflows/{wid}", content=yaml.safe_dump(template), headers=headers)
    assert resp.status_code in (200, 201), resp.text
    return wid

"""The API under a permissions table of its own (GANTRAL_IDENTITY__PERMISSIONS_FILE), and
the tables the audit and auth tests share: agents run instances, team auditors read their
own team's audit log and nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from temporalio.client import Client

from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from tests.helpers.serving import api_client

__all__ = ["TEAM_AUDITORS", "TEAM_AUDITORS_AND_DECIDERS", "api_with_table"]

TEAM_AUDITORS = """
kind: gantral/permissions
grants:
  - kinds: [agent]
    permissions: [instances:start, instances:authorize, instances:report, instances:read]
  - roles: [team-auditor]
    kinds: [human]
    permissions: [audit:read, instances:read]
"""
# And every person may try to decide (the role check then refuses or lets them).
TEAM_AUDITORS_AND_DECIDERS = (
    TEAM_AUDITORS + "  - {kinds: [human], permissions: [decisions:decide, instances:read]}\n"
)


@contextlib.asynccontextmanager
async def api_with_table(
    settings: Settings, temporal: Client, audit_config: AuditSettings, table: str, directory: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The session's API (its settings, workers and audit schema) reading its permissions
    from `table`, written to `directory`; a client of it in the test's event loop."""
    path = directory / "permissions.yaml"
    path.write_text(table)
    identity = settings.identity.model_copy(update={"permissions_file": path})
    async with api_client(settings, temporal, audit_config, identity=identity) as client:
        yield client

"""Which template versions instances may start from: the keep-active rules, once.

The latest version always is startable; a superseded one only while an administrator's
last recorded choice keeps it active. Every registry implementation inherits `KeepActive`
and supplies only its storage, so they cannot disagree on the rules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from gantral.errors import Conflict, Reason
from gantral.policy.stored import StoredTemplate

__all__ = [
    "ActivationChoice",
    "KeepActive",
    "TemplateActivation",
    "refuse_superseded",
    "startable",
]


class TemplateActivation(BaseModel):
    """Whether instances may start from one template version, and who decided it."""

    model_config = ConfigDict(frozen=True)

    workflow_id: str
    version: int
    latest_version: int
    # The latest version always is; an older one only while kept active.
    startable: bool
    kept_active: bool
    # The last administrator's choice about this version (None: never chosen).
    set_by: str | None = None
    justification: str | None = None
    set_at: datetime | None = None


@dataclass(frozen=True)
class ActivationChoice:
    """One recorded administrator choice about a template version."""

    keep_active: bool
    actor: str
    justification: str
    at: datetime


class KeepActive(ABC):
    """The keep-active methods of a `PolicyRegistry`, written once. An implementation
    inherits them and says where its templates and its choices are kept (the choices are
    appended, never rewritten; the last one about a version holds)."""

    @abstractmethod
    async def get_template(
        self, workflow_id: str, version: int | None = None
    ) -> StoredTemplate: ...

    @abstractmethod
    async def _last_choice(self, workflow_id: str, version: int) -> ActivationChoice | None: ...

    @abstractmethod
    async def _append_choice(
        self, workflow_id: str, version: int, keep_active: bool, actor: str, justification: str
    ) -> ActivationChoice: ...

    async def get_startable_template(
        self, workflow_id: str, version: int | None = None
    ) -> StoredTemplate:
        stored = await self.get_template(workflow_id, version)
        if version is None:
            return stored
        return refuse_superseded(stored, await self.template_activation(workflow_id, version))

    async def template_activation(self, workflow_id: str, version: int) -> TemplateActivation:
        stored, latest = await self._stored_and_latest(workflow_id, version)
        return startable(stored, latest, await self._last_choice(workflow_id, version))

    async def set_template_activation(
        self,
        workflow_id: str,
        version: int,
        *,
        keep_active: bool,
        actor: str,
        justification: str,
    ) -> TemplateActivation:
        # Both looked up first: an unknown workflow or version records nothing.
        stored, latest = await self._stored_and_latest(workflow_id, version)
        choice = await self._append_choice(workflow_id, version, keep_active, actor, justification)
        return startable(stored, latest, choice)

    async def _stored_and_latest(
        self, workflow_id: str, version: int
    ) -> tuple[StoredTemplate, int]:
        stored = await self.get_template(workflow_id, version)
        return stored, (await self.get_template(workflow_id)).version


def startable(
    stored: StoredTemplate, latest: int, choice: ActivationChoice | None
) -> TemplateActivation:
    """The activation of `stored` given the latest version and the last recorded choice."""
    kept = choice is not None and choice.keep_active
    return TemplateActivation(
        workflow_id=stored.workflow_id,
        version=stored.version,
        latest_version=latest,
        startable=stored.version == latest or kept,
        kept_active=kept,
        set_by=choice.actor if choice else None,
        justification=choice.justification if choice else None,
        set_at=choice.at if choice else None,
    )


def refuse_superseded(stored: StoredTemplate, activation: TemplateActivation) -> StoredTemplate:
    if activation.startable:
        return stored
    wid, latest = stored.workflow_id, activation.latest_version
    raise Conflict(
        f"workflow {wid} v{stored.version} is superseded: v{latest} is the active version "
        f"(start without workflow_version, or with {latest}); an administrator can keep "
        f"v{stored.version} active with PUT /v1/workflows/{wid}/versions/{stored.version}"
        "/activation",
        reason=Reason.VERSION_SUPERSEDED,
        workflow_id=wid,
        requested_version=stored.version,
        active_version=latest,
    )

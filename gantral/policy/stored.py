"""What a registry stores: one version of a policy or of a workflow template, with its
hash and when it was stored. Below the registry and the keep-active rules, which both
read it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from gantral.policy.models import Policy
from gantral.policy.templates import PolicyRef, WorkflowTemplate

__all__ = ["StoredPolicy", "StoredTemplate"]


class StoredPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    policy_id: str
    version: int
    content_hash: str
    policy: Policy
    created_at: datetime
    source: str | None = None

    @property
    def ref(self) -> PolicyRef:
        return PolicyRef(id=self.policy_id, version=self.version, content_hash=self.content_hash)


class StoredTemplate(BaseModel):
    model_config = ConfigDict(frozen=True)

    workflow_id: str
    version: int
    content_hash: str
    template: WorkflowTemplate
    created_at: datetime
    source: str | None = None

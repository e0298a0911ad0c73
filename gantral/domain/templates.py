"""Workflow templates: a versioned step graph with a policy per governed step."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gantral.policy.models import Materiality, Policy


class StepDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    policy: Policy = Policy()


class WorkflowTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    version: int = Field(ge=1)
    description: str = ""
    default_materiality: Materiality = Materiality.LOW
    steps: list[StepDefinition] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_steps(self) -> WorkflowTemplate:
        ids = [s.id for s in self.steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate step ids: {', '.join(dupes)}")
        return self

    def step(self, step_id: str) -> StepDefinition | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def content_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

"""Halts (the kill switch): what one covers, and the refusal it answers with. Pure.

A halt names one scope: a team, an agent, a workflow (optionally one version of it), or
the whole deployment. While it holds, the core refuses, for everything in its scope, new
instances, `authorize` calls and STEP_STARTED events (so every unused grant is
suspended) with 409 `halted`, naming the halt. Requests already pending stay pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gantral.errors import Conflict, Reason

__all__ = [
    "ExemptionApproval",
    "Halt",
    "HaltExemption",
    "HaltScope",
    "HaltTarget",
    "LiftApproval",
    "covering",
    "exempts",
    "halted",
    "not_narrower",
]

_NAME = r"^[A-Za-z0-9_.:@/-]+$"


def _unset(value: object) -> bool:
    return value is None  # a scope shows only what it names


def _exactly_one(schema: dict[str, Any]) -> None:
    """The published schema says what `_one` checks, so a client generated from it never
    sends a scope the API refuses: one variant per kind of scope, the others null or absent."""
    kinds = {"team": {"type": "string"}, "agent": {"type": "string"},
             "workflow": {"type": "string"}, "deployment": {"const": True}}  # fmt: skip
    variants = []
    for kind, named in kinds.items():
        others = [k for k in kinds if k != kind] + ([] if kind == "workflow" else ["version"])
        props = {kind: named, **{other: {"type": "null"} for other in others}}
        variants.append({"required": [kind], "properties": props})
    schema["oneOf"] = variants


class HaltScope(BaseModel):
    """Exactly one of `team`, `agent`, `workflow` (with an optional `version`) or
    `deployment: true`."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_exactly_one)

    team: str | None = Field(
        default=None, exclude_if=_unset, min_length=1, max_length=200, pattern=_NAME
    )
    agent: str | None = Field(
        default=None, exclude_if=_unset, min_length=1, max_length=256, pattern=_NAME
    )
    workflow: str | None = Field(
        default=None, exclude_if=_unset, min_length=1, max_length=200, pattern=_NAME
    )
    version: int | None = Field(
        default=None, exclude_if=_unset, ge=1, description="Only with `workflow`"
    )
    deployment: Literal[True] | None = Field(default=None, exclude_if=_unset)

    @model_validator(mode="after")
    def _one(self) -> HaltScope:
        named = [self.team, self.agent, self.workflow, self.deployment]
        if sum(value is not None for value in named) != 1:
            raise ValueError(
                "a halt scope names exactly one of team, agent, workflow or deployment: true"
            )
        if self.version is not None and self.workflow is None:
            raise ValueError("version is only a workflow's")
        return self

    def covers(self, target: HaltTarget) -> bool:
        """Whether `target` falls inside this scope."""
        if self.deployment:
            return True
        if self.team is not None:
            return target.team == self.team
        if self.agent is not None:
            return target.agent == self.agent
        if target.workflow != self.workflow:
            return False
        # A version-scoped halt on an instance whose version is unknown: covered (fail closed).
        return self.version is None or target.version in (None, self.version)

    def describe(self) -> str:
        if self.deployment:
            return "the whole deployment"
        if self.team is not None:
            return f"team {self.team}"
        if self.agent is not None:
            return f"agent {self.agent}"
        suffix = f" v{self.version}" if self.version is not None else ""
        return f"workflow {self.workflow}{suffix}"


@dataclass(frozen=True)
class HaltTarget:
    """What one call touches: the instance's team and workflow, and the calling agent."""

    team: str
    workflow: str
    version: int | None
    agent: str


class LiftApproval(BaseModel):
    """One human's approval of a lift that needs a quorum (`GANTRAL_HALTS__LIFT`): the
    role they counted in. The lift takes effect with the approval that makes the quorum."""

    model_config = ConfigDict(frozen=True)

    human: str
    role: str
    reason: str
    at: datetime


class HaltExemption(BaseModel):
    """Staged recovery: a narrower scope inside a halt that runs again while the rest of
    the halt holds (one agent or workflow of a halted team, say). Its own act, audited."""

    model_config = ConfigDict(frozen=True)

    scope: HaltScope
    reason: str
    exempted_by: str
    at: datetime


class ExemptionApproval(BaseModel):
    """One human's approval of an exemption where the deployment lifts halts by a
    quorum: the part (`scope`) and the role they counted in. The exemption takes effect
    with the approval that makes the quorum for that part."""

    model_config = ConfigDict(frozen=True)

    scope: HaltScope
    human: str
    role: str
    reason: str
    at: datetime


def not_narrower(halt: HaltScope, part: HaltScope) -> str | None:
    """Why `part` is no narrower part of `halt`, if it is not. An exemption covers what
    both scopes cover, so any other kind of scope is narrower; the same scope, the whole
    deployment, or a version-scoped halt's whole workflow is a lift, not a part of one."""
    if part.deployment or part == halt:
        return f"{part.describe()} is not narrower than {halt.describe()}: lift the halt"
    if halt.workflow is not None and part.workflow == halt.workflow and part.version is None:
        return f"{part.describe()} is not narrower than {halt.describe()}: lift the halt"
    return None


class Halt(BaseModel):
    """A halt as stored and listed: who raised it, when, why; and its lift, once lifted."""

    model_config = ConfigDict(frozen=True)

    halt_id: str
    scope: HaltScope
    reason: str
    raised_by: str
    raised_at: datetime
    # Separation of duties on the lift: someone other than the raiser must lift it.
    lift_by_another: bool = False
    lifted_by: str | None = None
    lifted_at: datetime | None = None
    lift_reason: str | None = None
    # Approvals toward a lift that needs a quorum, oldest first (empty otherwise).
    lift_approvals: list[LiftApproval] = Field(default_factory=list)
    # Narrower scopes recovered while the rest holds, oldest first.
    exemptions: list[HaltExemption] = Field(default_factory=list)
    # Approvals toward exemptions that need the lift quorum, oldest first: those whose
    # scope is not yet in `exemptions` are waiting for more.
    exemption_approvals: list[ExemptionApproval] = Field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def holds_over(self, target: HaltTarget) -> bool:
        """In effect, covering `target`, and no exemption of it covering `target`."""
        return (
            self.active
            and self.scope.covers(target)
            and not any(exempts(e.scope, target) for e in self.exemptions)
        )


def exempts(part: HaltScope, target: HaltTarget) -> bool:
    """Whether an exemption of `part` frees `target` from its halt."""
    # Strict where a halt is lenient: a version-scoped exemption never frees an instance
    # whose version is unknown (fail closed both ways).
    return part.covers(target) and (part.version is None or target.version == part.version)


def covering(halts: Iterable[Halt], target: HaltTarget) -> Halt | None:
    """The oldest active halt whose scope covers `target`, if any."""
    held = [h for h in halts if h.holds_over(target)]
    return min(held, key=lambda h: (h.raised_at, h.halt_id), default=None)


def halted(halt: Halt, what: str) -> Conflict:
    """The refusal: 409 `halted`, naming the halt and its reason (never NOT_READY: a halt
    is an authority decision, not a capacity problem)."""
    return Conflict(
        f"{what} refused: {halt.scope.describe()} is halted ({halt.halt_id}): {halt.reason}",
        reason=Reason.HALTED,
        halt_id=halt.halt_id,
        halt_reason=halt.reason,
        scope=halt.scope.model_dump(mode="json", exclude_none=True),
    )

"""Pydantic models of policy files (reference §6.2 form)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gantral.policy.durations import Duration


class Materiality(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleRule(_Strict):
    role: str = Field(min_length=1)


class AnyOf(_Strict):
    any_of: list[ApprovalRule] = Field(min_length=1)


class AllOf(_Strict):
    all_of: list[ApprovalRule] = Field(min_length=1)


class NOf(_Strict):
    n: int = Field(ge=1)
    of: list[ApprovalRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _n_fits(self) -> NOf:
        if self.n > len(self.of):
            raise ValueError(f"n_of needs n <= {len(self.of)} (the number of rules), got {self.n}")
        return self


class NOfRule(_Strict):
    n_of: NOf


ApprovalRule = RoleRule | AnyOf | AllOf | NOfRule


class Timeouts(_Strict):
    primary: Duration | None = None
    escalation: Duration | None = None


class OnTimeout(StrEnum):
    # Fail closed: no decision is never an approval unless a policy says so explicitly.
    EXPIRE = "EXPIRE"
    REJECT = "REJECT"
    APPROVE = "APPROVE"


class Policy(_Strict):
    """One step's policy. A plain `approvers` list means every listed role must approve."""

    materiality: Materiality = Materiality.LOW
    requires_human_approval: bool = False
    approvers: list[RoleRule] | ApprovalRule = Field(default_factory=list)
    timeouts: Timeouts = Timeouts()
    on_timeout: OnTimeout = OnTimeout.EXPIRE
    justification_required_for_approve: bool = False
    # Roles allowed to OVERRIDE; empty means the approver roles.
    override_roles: list[str] = Field(default_factory=list)
    grant_ttl: Duration = Field(default="15m", validate_default=True)
    kind: Literal["gantral/policy"] = "gantral/policy"

    @model_validator(mode="after")
    def _approvers_when_required(self) -> Policy:
        if self.requires_human_approval and self.approvers == []:
            raise ValueError("requires_human_approval is true but no approvers are listed")
        return self

    @property
    def approval_rule(self) -> ApprovalRule:
        if isinstance(self.approvers, list):
            return AllOf(all_of=list(self.approvers))
        return self.approvers

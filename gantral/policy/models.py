"""Pydantic models of policy files.

The reference §6.2 form keeps parsing and meaning the same: a plain `approvers` list
means every listed role must approve, `timeouts.primary` is tier 1 and
`timeouts.escalation` a second tier with the same approvers, and `on_timeout` defaults
to EXPIRE (fail closed). Everything else is an optional addition with a default:
materiality rules, per-materiality settings, explicit escalation tiers with reminders,
SLA, separation of duties and OVERRIDE rules.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, model_validator

from gantral.policy.conditions import Condition, MaterialityRule, Op
from gantral.policy.levels import FieldError, TimingError, check_reminders, resolve_level
from gantral.policy.materiality import Materiality
from gantral.policy.rules import (
    AllOf,
    AnyOf,
    ApprovalRule,
    Approvers,
    NOf,
    NOfRule,
    RoleRule,
    as_rule,
)
from gantral.policy.rules import Strict as _Strict
from gantral.policy.schema_rules import policy_rules, settings_rules, tier_rules
from gantral.settings.durations import Duration

__all__ = [
    "SELF_APPROVABLE",
    "AllOf",
    "AnyOf",
    "ApprovalRule",
    "Approvers",
    "Channels",
    "Condition",
    "LevelSettings",
    "Materiality",
    "MaterialityRule",
    "NOf",
    "NOfRule",
    "Notify",
    "OnTimeout",
    "Op",
    "Policy",
    "RoleRule",
    "SlackChannel",
    "SlackNotify",
    "Standing",
    "TierSpec",
    "Timeouts",
]


class Timeouts(_Strict):
    primary: Duration | None = None
    escalation: Duration | None = None


class OnTimeout(StrEnum):
    # Fail closed: no decision is never an approval unless a policy says so explicitly.
    EXPIRE = "EXPIRE"
    REJECT = "REJECT"
    APPROVE = "APPROVE"


class TierSpec(_Strict):
    """One explicit rung of an escalation chain. No `approvers` means the policy's (an
    empty list is refused). Reminders need the tier's `timeout` and come before it."""

    model_config = ConfigDict(json_schema_extra=tier_rules)

    name: str | None = Field(default=None, min_length=1)
    approvers: Approvers | None = None
    timeout: Duration | None = None
    # How long before this tier's deadline a reminder goes out.
    reminders: list[Duration] = Field(default_factory=list)

    @model_validator(mode="after")
    def _reminders_fit(self) -> TierSpec:
        if self.approvers == []:
            raise FieldError(("approvers",), "a tier's approvers cannot be empty: leave them "
                             "out to use the policy's")  # fmt: skip
        try:
            check_reminders(self.reminders, self.timeout)
        except ValueError as e:
            late = self.timeout is not None  # then the reminder is at or past it
            raise (TimingError if late else FieldError)(("reminders",), str(e)) from None
        return self


class SlackNotify(_Strict):
    """A Slack channel id (C..., or G... for an older private channel); not a #name,
    which can change."""

    channel: str = Field(pattern=r"^[CG][A-Z0-9]{2,31}$")


def _channel_required(schema: dict[str, Any]) -> None:
    # What `_names_a_channel` checks, published: a channel is required and not null (the
    # model keeps it optional so that a missing one gets its own message).
    slack = schema["properties"]["slack"]
    schema["properties"]["slack"] = next(s for s in slack.pop("anyOf") if s != {"type": "null"})
    slack.pop("default", None)
    schema["properties"]["slack"] |= slack
    schema["required"] = ["slack"]


class Notify(_Strict):
    """Where this policy's requests are sent, instead of the team's configured place."""

    model_config = ConfigDict(json_schema_extra=_channel_required)

    slack: SlackNotify | None = Field(default=None, exclude_if=lambda v: v is None)

    @model_validator(mode="after")
    def _names_a_channel(self) -> Notify:
        if self.slack is None:
            raise ValueError("notify names no channel: give slack.channel")
        return self


class SlackChannel(_Strict):
    """How this policy's requests may be decided from a Slack message."""

    # Approve (and Override) from a message whose arguments were cut to fit Slack's limits.
    # None: allowed below HIGH materiality, refused at HIGH and CRITICAL; the approver
    # then decides through the CLI or the API after seeing everything.
    approve_truncated: StrictBool | None = Field(default=None, exclude_if=lambda v: v is None)


class Channels(_Strict):
    """Per-channel choices of this policy."""

    slack: SlackChannel | None = Field(default=None, exclude_if=lambda v: v is None)


SELF_APPROVABLE = frozenset({Materiality.LOW, Materiality.MEDIUM})
"""The levels at which a policy may let the caller approve their own call."""

# A path into the step's arguments: `service`, `target.region`.
ArgumentPath = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]


class Standing(_Strict):
    """What an approver may grant standing on this step (issue 24): at most `max_ttl`
    long, `max_uses` uses, given only by a human approving in one of `roles`. Absent:
    no standing grant; never at CRITICAL materiality."""

    max_ttl: Duration
    max_uses: int = Field(ge=1, le=10_000)
    roles: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _positive(self) -> Standing:
        if self.max_ttl <= timedelta(0):
            raise FieldError(("max_ttl",), "max_ttl must be positive")
        return self


class _Settings(_Strict):
    """The settings a materiality level may change. `None` means: as the policy says."""

    approvers: Approvers | None = None
    timeouts: Timeouts | None = None
    tiers: list[TierSpec] | None = Field(default=None, min_length=1)
    reminders: list[Duration] | None = None
    on_timeout: OnTimeout | None = None
    sla: Duration | None = None
    justification_required_for_approve: StrictBool | None = None
    override_roles: list[str] | None = None
    override_requires_justification: StrictBool | None = None
    override_requires_second_signoff: StrictBool | None = None
    grant_ttl: Duration | None = None

    @model_validator(mode="after")
    def _one_chain(self) -> _Settings:
        # By value, not by which fields were written: a dumped policy must load back.
        if self.tiers is not None and self.timeouts not in (None, Timeouts()):
            raise ValueError("give either tiers or timeouts, not both")
        if self.tiers is not None and self.reminders is not None:
            raise ValueError("with tiers, put reminders on each tier")
        return self


class LevelSettings(_Settings):
    """Settings for one materiality level.

    Setting `approvers` or `tiers` here implies `requires_human_approval: true`: a policy
    that names approvers for a level never silently lets that level through.
    """

    model_config = ConfigDict(json_schema_extra=settings_rules)

    requires_human_approval: StrictBool | None = None


class Policy(_Settings):
    """One step's policy. A plain `approvers` list means every listed role must approve.

    Every materiality level that needs a human must find approvers (its own, else the
    policy's; the schema's `if`/`then` rules). Not expressible in the schema, refused at
    load naming the field: a reminder at or after its deadline, `n_of.n` above the number
    of rules, a tier without a timeout before the last, a materiality-rule field that is
    not a fact."""

    model_config = ConfigDict(json_schema_extra=policy_rules)

    kind: Literal["gantral/policy"] = "gantral/policy"
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    # The floor: materiality rules can raise it, never lower it.
    materiality: Materiality = Materiality.LOW
    materiality_rules: list[MaterialityRule] = Field(default_factory=list)
    requires_human_approval: StrictBool = False
    approvers: Approvers = Field(default_factory=list)
    timeouts: Timeouts = Timeouts()
    on_timeout: OnTimeout = OnTimeout.EXPIRE
    justification_required_for_approve: StrictBool = False
    # Roles allowed to OVERRIDE; empty means the approver roles.
    override_roles: list[str] = Field(default_factory=list)
    override_requires_justification: StrictBool = True
    override_requires_second_signoff: StrictBool = False
    grant_ttl: Duration = timedelta(minutes=15)
    # On by default: requester, agent owner and trigger actor cannot approve. An opt-out
    # is explicit and every plan says so in its explanation.
    separation_of_duties: StrictBool = True
    by_materiality: dict[Materiality, LevelSettings] = Field(default_factory=dict)
    # Optional, and left out of the dump when unset: the content hash of every policy
    # written before this field existed stays what it was (pinned instances, idempotent
    # re-publication).
    notify: Notify | None = Field(default=None, exclude_if=lambda v: v is None)
    # The arguments an approver must see first (paths into the arguments): channels that
    # cut long arguments show these before anything else. Optional like `notify`.
    key_fields: list[ArgumentPath] = Field(
        default_factory=list, max_length=20, exclude_if=lambda v: not v
    )
    channels: Channels | None = Field(default=None, exclude_if=lambda v: v is None)
    # Standing grants this step allows; optional like `notify` (hashes unchanged).
    standing: Standing | None = Field(default=None, exclude_if=lambda v: v is None)
    # `allowed`: the human whose call this is may decide its request in their own MCP
    # client (the gateway's elicitation channel), still needing an approver role. Only
    # without separation of duties and at LOW or MEDIUM: a level a materiality rule
    # raises higher is never self-approved. Optional like `notify`.
    self_approval: Literal["allowed"] | None = Field(default=None, exclude_if=lambda v: v is None)

    @model_validator(mode="after")
    def _self_approval_where_harmless(self) -> Policy:
        if self.self_approval is None:
            return self
        if self.separation_of_duties:
            raise ValueError(
                "self_approval: allowed needs separation_of_duties: false (a caller"
                " approving their own call is what separation of duties forbids)"
            )
        if self.materiality not in SELF_APPROVABLE:
            raise ValueError(
                f"self_approval: allowed is for LOW or MEDIUM materiality, not {self.materiality}"
            )
        return self

    @model_validator(mode="after")
    def _every_level_is_coherent(self) -> Policy:
        if self.standing is not None and self.materiality is Materiality.CRITICAL:
            raise FieldError(("standing",), "a CRITICAL step never allows standing grants")
        # Resolve every level now, so a bad combination fails when the file is loaded,
        # not when an instance first reaches that materiality.
        for level in Materiality:
            resolve_level(self, level)
        return self

    def content_hash(self) -> str:
        """sha256 of the RFC 8785 canonical JSON of the policy: what versions are keyed by."""
        from gantral.domain.digest import sha256_hex

        return "sha256:" + sha256_hex(self.model_dump(mode="json"))

    @property
    def approval_rule(self) -> ApprovalRule:
        return as_rule(self.approvers)

"""Approval rules of a policy (`approvers`: a role, `any_of`, `all_of`, `n_of`), nested.

Below the policy models, the level resolution and the quorum, which all read them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from gantral.policy.schema_rules import MAX_N_OF, n_of_rules

__all__ = [
    "AllOf",
    "AnyOf",
    "ApprovalRule",
    "Approvers",
    "NOf",
    "NOfRule",
    "RoleRule",
    "Rule",
    "Strict",
    "as_rule",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleRule(Strict):
    role: str = Field(min_length=1)


class AnyOf(Strict):
    any_of: list[Rule] = Field(min_length=1)


class AllOf(Strict):
    all_of: list[Rule] = Field(min_length=1)


class NOf(Strict):
    """`n` of the rules in `of` must be satisfied: at most as many as there are (said in
    the schema as one `if`/`then` per count, so both are bounded)."""

    model_config = ConfigDict(json_schema_extra=n_of_rules)

    n: int = Field(ge=1, le=MAX_N_OF)
    of: list[Rule] = Field(min_length=1, max_length=MAX_N_OF)

    @model_validator(mode="after")
    def _n_fits(self) -> NOf:
        if self.n > len(self.of):
            raise ValueError(f"n_of needs n <= {len(self.of)} (the number of rules), got {self.n}")
        return self


class NOfRule(Strict):
    n_of: NOf


ApprovalRule = RoleRule | AnyOf | AllOf | NOfRule

_RULE_KEYS = ("role", "any_of", "all_of", "n_of")
_RULE_TAGS: dict[type, str] = {RoleRule: "role", AnyOf: "any_of", AllOf: "all_of", NOfRule: "n_of"}


def _rule_tag(value: Any) -> str | None:
    # A tagged union gives one precise error ("any_of[1].role: field required") instead
    # of one error per union member, which is what makes YAML line numbers useful.
    if isinstance(value, dict):
        keys = [k for k in _RULE_KEYS if k in value]
        return keys[0] if len(keys) == 1 else None
    return _RULE_TAGS.get(type(value))


Rule = Annotated[
    Annotated[RoleRule, Tag("role")]
    | Annotated[AnyOf, Tag("any_of")]
    | Annotated[AllOf, Tag("all_of")]
    | Annotated[NOfRule, Tag("n_of")],
    Discriminator(
        _rule_tag,
        custom_error_type="approval_rule",
        custom_error_message="an approval rule needs exactly one of: role, any_of, all_of, n_of",
    ),
]

# A plain list of roles (all must approve, the §6.2 form) or one nested rule.
Approvers = Annotated[
    Annotated[list[RoleRule], Tag("list")] | Annotated[Rule, Tag("rule")],
    Discriminator(lambda v: "list" if isinstance(v, list) else "rule"),
]

for _model in (AnyOf, AllOf, NOf):
    _model.model_rebuild()


def as_rule(approvers: list[RoleRule] | ApprovalRule) -> ApprovalRule:
    return AllOf(all_of=list(approvers)) if isinstance(approvers, list) else approvers

"""Who may raise and lift halts, as the deployment's own policy (issue 24).

The permission table (`halts:raise`, `halts:lift`, on the halt's teams) still decides who
may act at all; these settings add what a security team writes down beside it:

    GANTRAL_HALTS__RAISE_ROLES='["operator", "security"]'     # a raiser holds one of them
    GANTRAL_HALTS__LIFT='2_of(security, platform-admin)'        # a quorum of humans lifts
    GANTRAL_HALTS__LIFT_SEPARATION=true                         # never by the raiser
    GANTRAL_HALTS__OWNERS_MAY_HALT=true                         # an agent's owner halts it

`lift` is an approval rule as in a policy (`{"n_of": {"n": 2, "of": [{"role": ...}]}}`),
or its short form: `ROLE`, `N_of(A, B, ...)`, `any_of(A, B)`, `all_of(A, B)` over roles.
Each human counts once; unset, one holder of `halts:lift` lifts a halt alone.

`owners_may_halt` lets the human an agent's tokens name as its owner (the identity
provider's owner claim, as the agent last presented it) halt that agent (`{"agent": A}`)
without `halts:raise` or a raise role: stopping one's own agent never widens authority.

Break-glass, the mirror of a halt, is off unless its quorum is written down:

    GANTRAL_HALTS__BREAK_GLASS='2_of(security, platform-admin)'   # who opens it, together
    GANTRAL_HALTS__BREAK_GLASS_MAX_TTL=1h                          # the longest one may last
    GANTRAL_HALTS__BREAK_GLASS_CRITICAL=false                      # CRITICAL steps stay human
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gantral.settings.durations import Duration

__all__ = ["HaltSettings", "parse_rule"]

_ROLE = r"[A-Za-z0-9_.:@/-]+"
_SHORT = re.compile(
    rf"^\s*(?:(\d+)_of|(any_of|all_of))\s*\(\s*({_ROLE}(?:\s*,\s*{_ROLE})*)\s*\)\s*$"
)


def parse_rule(text: str) -> dict[str, Any]:
    """`2_of(security, platform-admin)` (or `any_of(...)`, `all_of(...)`, one role) as
    the approval rule it stands for; ValueError when it is none of these."""
    text = text.strip()
    if re.fullmatch(_ROLE, text):
        return {"role": text}
    match = _SHORT.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an approval rule: write ROLE, N_of(A, B, ...), any_of(A, B) "
            "or all_of(A, B), or the rule as JSON"
        )
    count, kind, listed = match.groups()
    roles = [{"role": r.strip()} for r in listed.split(",")]
    if count is not None:
        return {"n_of": {"n": int(count), "of": roles}}
    return {kind: roles}


class HaltSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # When set, raising a halt also needs one of these roles (beyond `halts:raise`).
    raise_roles: list[str] = Field(default_factory=list)
    # An agent's owner may halt that agent alone (the scope `{"agent": A}`), beyond both.
    owners_may_halt: bool = False
    # The quorum of humans that lifts a halt (short form or JSON); empty: one holder of
    # `halts:lift`. Text, so an environment variable holds either form. Checked as an
    # approval rule when the API starts (`gantral.governance.halt_book`).
    lift: str = Field(default="", max_length=2000)
    # The raiser never lifts, nor counts toward a lift (as `lift_by_another` on one halt).
    lift_separation: bool = False
    # The quorum of humans that opens a break-glass (same forms as `lift`); empty: no
    # break-glass in this deployment (the default: it widens authority).
    break_glass: str = Field(default="", max_length=2000)
    # The longest TTL a break-glass may ask for; it never lasts longer, nor is extended.
    break_glass_max_ttl: Duration = timedelta(hours=1)
    # Whether a break-glass also passes steps of CRITICAL materiality (never, unless said).
    break_glass_critical: bool = False

    @field_validator("lift", "break_glass")
    @classmethod
    def _parses(cls, value: str) -> str:
        if value.strip():
            _spec(value)  # refused at load, never at the first lift
        return value

    @property
    def lift_spec(self) -> dict[str, Any] | None:
        """The lift rule as data (an approval rule's JSON), or None for a single lifter."""
        return _spec(self.lift) if self.lift.strip() else None

    @property
    def break_glass_spec(self) -> dict[str, Any] | None:
        """The break-glass quorum as data, or None when break-glass is off."""
        return _spec(self.break_glass) if self.break_glass.strip() else None


def _spec(text: str) -> dict[str, Any]:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return parse_rule(stripped)
    spec = json.loads(stripped)
    if not isinstance(spec, dict):
        raise ValueError("an approval rule must be a JSON object")
    return spec

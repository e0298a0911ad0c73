"""The cross-field rules of a policy that JSON Schema can say, said in its published schema.

`levels.resolve_level` refuses, at load, a policy where some materiality level needs a
human but no approver can be found for it. Which approvers a level gets is inherited
(its `by_materiality` entry, else the policy's), and which entry applies to a level is
the nearest one at or below it; but every entry is the nearest one for its own level,
and the policy's own settings apply to some level exactly when there is no `LOW` entry.
So the rule is: every entry, and the policy itself when `LOW` has no entry, is coherent:

    it needs a human (its own `requires_human_approval`, else true when it names approvers
    or tiers, else the policy's) => its approvers (its own, else the policy's) are not
    empty, or its chain is tiers (its own when it names tiers or timeouts, else the
    policy's) that each name non-empty approvers; no tier names an empty list.

These are `if`/`then` schemas on the policy object. `_Settings._one_chain` (tiers and
timeouts or policy-wide reminders are exclusive) and a tier's reminders needing its
timeout are local and said the same way. What JSON Schema cannot compare (a reminder
before its deadline, `n_of.n` at most the number of rules, a timeout on every tier but
the last, materiality-rule fields being facts) is in the descriptions, and the error
names the field.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MAX_N_OF",
    "n_of_rules",
    "policy_rules",
    "settings_rules",
    "single_step_rules",
    "tier_rules",
]

Schema = dict[str, Any]
LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


def _null(name: str) -> Schema:
    """Absent or null."""
    return {"properties": {name: {"type": "null"}}}


def _set(name: str) -> Schema:
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def _true(name: str) -> Schema:
    return {"required": [name], "properties": {name: {"const": True}}}


def _listed(name: str = "approvers") -> Schema:
    """Present, not null, not the empty list."""
    return {
        "required": [name],
        "properties": {name: {"not": {"anyOf": [{"type": "null"}, {"const": []}]}}},
    }


_NO_EMPTY_TIER = {
    "properties": {
        "tiers": {
            "anyOf": [
                {"type": "null"},
                {"items": {"properties": {"approvers": {"not": {"const": []}}}}},
            ]
        }
    }
}
_EVERY_TIER_LISTED = {"properties": {"tiers": {"items": _listed()}}}  # fmt: skip


def _in_entry(level: str, schema: Schema) -> Schema:
    """`schema` applied to `by_materiality[level]` (vacuous when it is absent)."""
    return {"properties": {"by_materiality": {"properties": {level: schema}}}}


def _chain_ok(tiers_here: Schema, every_tier_listed: Schema, approvers: Schema) -> Schema:
    """Tiers (where `tiers_here` holds) each listing approvers or falling back on
    `approvers`; else `approvers`."""
    return {
        "if": tiers_here,
        "then": {"anyOf": [every_tier_listed, approvers]},
        "else": approvers,
    }


def _policy_itself() -> Schema:
    return {
        "if": {
            "required": ["by_materiality"],
            "properties": {"by_materiality": {"required": ["LOW"]}},
        },
        "else": {
            "if": _true("requires_human_approval"),
            "then": _chain_ok(_set("tiers"), _EVERY_TIER_LISTED, _listed()),
        },
    }


def _entry(level: str) -> Schema:
    needs_human = {
        "anyOf": [
            _in_entry(level, _true("requires_human_approval")),
            {
                "allOf": [
                    _in_entry(level, _null("requires_human_approval")),
                    {"anyOf": [_in_entry(level, _set("approvers")), _in_entry(level, _set("tiers")),
                               _true("requires_human_approval")]},
                ]
            },
        ]
    }  # fmt: skip
    inherited = {"allOf": [_in_entry(level, _null("approvers")), _listed()]}
    approvers = {"anyOf": [_in_entry(level, _listed()), inherited]}
    own_chain = _in_entry(level, {"anyOf": [_set("tiers"), _set("timeouts")]})
    return {
        "if": {
            "required": ["by_materiality"],
            "properties": {"by_materiality": {"required": [level]}},
        },
        "then": {
            "allOf": [
                _in_entry(level, _NO_EMPTY_TIER),
                {
                    "if": needs_human,
                    "then": {
                        "if": own_chain,
                        "then": _chain_ok(
                            _in_entry(level, _set("tiers")),
                            _in_entry(level, _EVERY_TIER_LISTED),
                            approvers,
                        ),
                        "else": _chain_ok(_set("tiers"), _EVERY_TIER_LISTED, approvers),
                    },
                },
            ]
        },
    }


def settings_rules(schema: Schema) -> None:
    """A policy's or a level's settings: one chain (tiers, or timeouts and reminders)."""
    one_chain = {
        "if": _set("tiers"),
        "then": {"properties": {
            "reminders": {"type": "null"},
            "timeouts": {"anyOf": [{"type": "null"}, {"properties": {
                "primary": {"type": "null"}, "escalation": {"type": "null"}}}]},
        }},
    }  # fmt: skip
    schema.setdefault("allOf", []).append(one_chain)


# `self_approval: allowed` only without separation of duties, at LOW or MEDIUM.
_SELF_APPROVAL: Schema = {
    "if": {"required": ["self_approval"], "properties": {"self_approval": {"const": "allowed"}}},
    "then": {
        "required": ["separation_of_duties"],
        "properties": {
            "separation_of_duties": {"const": False},
            "materiality": {"enum": ["LOW", "MEDIUM"]},
        },
    },
}


def policy_rules(schema: Schema) -> None:
    """`settings_rules`, the policy's tiers never empty lists, every level coherent, and
    self-approval only where it is allowed."""
    settings_rules(schema)
    schema["allOf"] += [
        _NO_EMPTY_TIER, _policy_itself(), *(_entry(level) for level in LEVELS), _SELF_APPROVAL,
    ]  # fmt: skip


MAX_N_OF = 20
"""The most rules an `n_of` lists (and so its largest `n`)."""


def n_of_rules(schema: Schema) -> None:
    """`n` at most the number of rules in `of`."""
    schema.setdefault("allOf", []).extend(
        {"if": {"required": ["n"], "properties": {"n": {"minimum": count}}},
         "then": {"properties": {"of": {"minItems": count}}}}
        for count in range(2, MAX_N_OF + 1)
    )  # fmt: skip


def single_step_rules(schema: Schema) -> None:
    """A template of one step: it can depend on no other. (With more steps, that
    `depends_on` names other steps of the template, without a cycle, is not expressible:
    the description says it, and the error names the step.)"""
    independent = {"items": {"properties": {"depends_on": {"maxItems": 0}}}}
    schema.setdefault("allOf", []).append(
        {"if": {"properties": {"steps": {"maxItems": 1}}},
         "then": {"properties": {"steps": independent}}}
    )  # fmt: skip


def tier_rules(schema: Schema) -> None:
    """Reminders count back from the tier's deadline: they need its timeout."""
    needs_timeout = {
        "if": {"required": ["reminders"], "properties": {"reminders": {"minItems": 1}}},
        "then": _set("timeout"),
    }
    schema.setdefault("allOf", []).append(needs_timeout)

"""Audit payloads as earlier releases wrote them, before fields were added to their event
types: the log keeps every one, so every reader must still read them.

Each shape is what the writer of that release stored (from git history: the writers
dumped domain records before the payload models existed), named by the commit after
which the event type's writer recorded more."""

from __future__ import annotations

from typing import Any

__all__ = ["DIGEST", "OLDER_SHAPES", "older"]

DIGEST = "sha256:" + "d" * 64
AT = "2026-11-25T12:55:00Z"

# (event type, payload, which release wrote it)
OLDER_SHAPES: list[tuple[str, dict[str, Any], str]] = [
    (
        "INSTANCE_STARTED",
        {
            "workflow_id": "deploy",
            "workflow_version": 1,
            "template_hash": "sha256:t",
            "owning_team_id": "payments",
            "trigger_context": {"environment": "production"},
        },
        "before the start was attested (67d3443), pinned policies and callback URLs",
    ),
    (
        "HUMAN_REQUESTED",
        {
            "request_id": "req_1",
            "step_id": "deploy",
            "args_digest": DIGEST,
            "approvers": ["TECH_LEAD"],
        },
        "before separation_of_duties and grant_holder (67d3443)",
    ),
    (
        "REQUEST_SUPERSEDED",
        {"request_id": "req_1", "superseded_by": "req_2"},
        "before why and materiality (44f6763)",
    ),
    (
        "DECISION_RECORDED",
        {
            "decision_id": "dec_1",
            "instance_id": "inst_1",
            "request_id": "req_1",
            "decision_type": "APPROVE",
            "human_actor_id": "alice",
            "role": "TECH_LEAD",
            "justification": None,
            "args_digest": DIGEST,
            "context_delta": None,
            "idempotency_key": "k1",
            "at": AT,
            "quorum_satisfied": True,
            "still_needed": [],
        },
        "before snapshot references, attestation (67d3443) and channels (916012f)",
    ),
    (
        "DECISION_RECORDED",
        {
            "decision_id": "dec_2",
            "instance_id": "inst_1",
            "request_id": "req_2",
            "decision_type": "OVERRIDE",
            "human_actor_id": "maria",
            "role": "SRE_MANAGER",
            "justification": "hotfix",
            "context_snapshot_ref": "audit:inst_1/4",
            "args_digest": DIGEST,
            "context_delta": {"ticket": "OPS-1"},
            "idempotency_key": "k2",
            "at": "2026-11-26T10:35:00.250000Z",
            "quorum_satisfied": True,
            "still_needed": [],
            "attested": {"op": "decide", "body": {"request_id": "req_2"}, "attestation": None},
        },
        "attested, before channels (916012f)",
    ),
    (
        "GRANT_ISSUED",
        {
            "grant_id": "gr_1",
            "step_id": "deploy",
            "request_id": "req_1",
            "args_digest": DIGEST,
            "expires_at": "2026-11-25T13:55:00Z",
        },
        "before grants were bound to a holder (67d3443)",
    ),
    (
        "AGENT_EVENT",
        {
            "kind": "STEP_STARTED",
            "step_id": "deploy",
            "grant_id": "gr_1",
            "args_digest": DIGEST,
            "cost": None,
            "detail": {},
        },
        "before idempotency keys (67d3443)",
    ),
    (
        "COST_REPORTED",
        {"tokens": 120, "money": 0, "currency": "USD", "wall_time_seconds": 1.5},
        "money spelled as an integer by the canonical encoding",
    ),
    (
        "STATE_TRANSITION",
        {
            "seq": 3,
            "from_state": "WAITING_FOR_HUMAN",
            "to_state": "APPROVED",
            "cause": "APPROVE by alice as TECH_LEAD",
            "at": AT,
            "request_id": "req_1",
        },
        "the first release",
    ),
    (
        "ACCESS_REFUSED",
        {"attempted": "decide", "reason": "forbidden", "message": "no", "request_id": "req_1"},
        "recorded in the instance's own log, before instance_id (ed441e2)",
    ),
    (
        "ADMIN_ACTION",
        {"action": "keep_version", "detail": {"workflow_id": "deploy"}},
        "before admin actions were attested (67d3443)",
    ),
    ("INSTANCE_SEALED", {}, "the seal of an archived history's chain (d1228d8)"),
    (
        "REMINDER_SENT",
        {"request_id": "req_1", "tier": 0, "deadline": None},
        "a tier without a deadline",
    ),
]


def older(type_: str, index: int = 0) -> dict[str, Any]:
    """A copy of the `index`th older shape of `type_`."""
    found = [dict(payload) for kind, payload, _ in OLDER_SHAPES if kind == type_]
    return found[index]

"""A human request as channels and the inbox receive it, for pure tests of both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gantral.domain.records import HumanRequest
from gantral.policy.materiality import Materiality

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def request(**changes: Any) -> HumanRequest:
    """An open HIGH request for a TECH_LEAD, due in an hour; `changes` replace fields."""
    base: dict[str, Any] = {
        "request_id": "req_1",
        "step_id": "deploy",
        "action": "deploy.run",
        "arguments": {"service": "billing", "version": "2.4.1"},
        "args_digest": "d" * 64,
        "materiality": Materiality.HIGH,
        "required_approvers": ["TECH_LEAD"],
        "still_needed": ["TECH_LEAD"],
        "quorum": "0 of 1 approvals; still needed: TECH_LEAD",
        "deadline": NOW + timedelta(hours=1),
        "context_snapshot": {"context": {"env": "prod", "ticket": 7}, "redacted": ["$.prompt"]},
        "created_at": NOW,
    }
    return HumanRequest.model_validate({**base, **changes})

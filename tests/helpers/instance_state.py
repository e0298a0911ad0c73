"""Instance state without Temporal: actors, instants, a state to ask and decide on."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from gantral.domain.actors import Actor, ActorKind
from gantral.errors import GantralError
from gantral.policy.loading import load_template
from gantral.workflows.messages import (
    AuthorizeStep,
    StartInstance,
)
from gantral.workflows.state import InstanceState

TEMPLATE = """
id: pay
steps:
  - id: plan
  - id: transfer
    policy:
      requires_human_approval: true
      approvers: [{role: TECH_LEAD}]
      override_roles: [SRE_MANAGER]
      grant_ttl: 1h
      materiality_rules:
        - {level: CRITICAL, when: [{field: arguments.amount, op: gt, value: 10000}]}
      by_materiality:
        CRITICAL:
          approvers: [{role: TECH_LEAD}, {role: SECURITY_REVIEWER}]
          timeouts: {primary: 1h}
          on_timeout: EXPIRE
"""


def _ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"{next(counter):032x}"


T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


AGENT = Actor(id="agent-7", kind=ActorKind.AGENT, owner="olivia")


LEAD = Actor(id="alice", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])


LEAD2 = Actor(id="bob", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])


SEC = Actor(id="sam", kind=ActorKind.HUMAN, roles=["SECURITY_REVIEWER"])


def _state(template: str = TEMPLATE) -> tuple[InstanceState, Any]:
    start = StartInstance(
        instance_id="inst_1",
        template=load_template(template),
        template_hash="sha256:t",
        owning_team_id="payments",
        started_by=AGENT,
    )
    s = InstanceState(start, T0)
    s.begin({}, T0)
    return s, _ids()


def _ask(s: InstanceState, ids: Any, amount: int, step: str = "transfer") -> Any:
    req = AuthorizeStep(step_id=step, action="pay", arguments={"amount": amount}, actor=AGENT)
    s.check_authorize(req)
    return s.authorize(req, T0, ids)


def _refused(call: Any) -> str:
    with pytest.raises(GantralError) as info:
        call()
    return info.value.reason

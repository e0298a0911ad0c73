"""An instance's data as one value: carried whole through continue-as-new, read back by
the next run (also in the shape runs recorded before it existed), and free of Temporal.
"""

from __future__ import annotations

import ast
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter

import gantral
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.records import DecisionType
from gantral.domain.states import State
from gantral.policy.loading import load_template
from gantral.workflows.messages import (
    AgentEvent,
    AgentEventKind,
    AuthorizeStep,
    Decide,
    InstanceData,
    StartInstance,
)
from gantral.workflows.state import InstanceState
from tests.replay.corpus import HISTORIES, load

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
AGENT = Actor(id="agent-7", kind=ActorKind.AGENT)
LEAD = Actor(id="alice", kind=ActorKind.HUMAN, roles=["TECH_LEAD"])
TEMPLATE = """
id: pay
steps:
  - id: transfer
    policy:
      requires_human_approval: true
      approvers: [{role: TECH_LEAD}]
      grant_ttl: 1h
"""


def _start(carried: InstanceData | None = None) -> StartInstance:
    return StartInstance(
        instance_id="inst_1",
        template=load_template(TEMPLATE),
        template_hash="sha256:t",
        owning_team_id="payments",
        started_by=AGENT,
        carried=carried,
    )


def _through_temporal(start: StartInstance) -> StartInstance:
    """What the next run receives: the input as Temporal's data converter writes and reads it."""
    converter = pydantic_data_converter.payload_converter
    payload = converter.to_payloads([start])
    decoded: StartInstance = converter.from_payloads(payload, [StartInstance])[0]
    return decoded


def _step_started(grant_id: str, digest: str) -> AgentEvent:
    return AgentEvent(
        kind=AgentEventKind.STEP_STARTED, step_id="transfer", grant_id=grant_id,
        args_digest=digest, actor=AGENT,
    )  # fmt: skip


def test_the_next_run_continues_from_the_carried_value_whole() -> None:
    counter = itertools.count(1)
    ids = lambda: f"{next(counter):032x}"  # noqa: E731
    s = InstanceState(_start(), T0)
    s.begin({}, T0)
    ask = AuthorizeStep(step_id="transfer", action="pay", arguments={"amount": 5}, actor=AGENT)
    s.authorize(ask, T0, ids)
    first = s.pending
    assert first is not None
    d = Decide(request_id=first.request_id, decision_type=DecisionType.APPROVE, actor=LEAD,
               idempotency_key="k")  # fmt: skip
    decided = s.decide(d, {}, T0, ids)
    assert decided.grant is not None
    s.settle(decided.request, decided.grant, T0)
    s.report(_step_started(decided.grant.grant_id, decided.grant.args_digest), T0)
    s.authorize(ask.model_copy(update={"arguments": {"amount": 6}}), T0, ids)
    s.data.creator = "attempt-1"

    carried = _through_temporal(_start(s.snapshot())).carried
    assert carried is not None
    # The grant book is a structure: each grant with its own state.
    held = carried.grants.grants[decided.grant.grant_id]
    assert held.active and held.used and carried.grants.started_steps == ["transfer"]
    nxt = InstanceState(_start(carried), T0 + timedelta(hours=1))
    assert nxt.data.run == 2 and nxt.data.creator == "attempt-1"
    # The view is derived from the data: the same on both sides of the hand-over.
    assert nxt.view() == s.view()
    assert nxt.log.count == s.log.count
    # Only the pending request keeps the snapshot a human is shown, and its plan.
    assert set(nxt.data.plans) == {nxt.data.pending_id}
    resolved = nxt.data.requests[first.request_id]
    assert resolved.context_snapshot == {} and s.data.requests[first.request_id].context_snapshot
    # The rules carry on: the pending request is decidable, and the grant stays used.
    pending = nxt.pending
    assert pending is not None and nxt.state is State.WAITING_FOR_HUMAN
    d2 = d.model_copy(update={"request_id": pending.request_id, "idempotency_key": "k2"})
    nxt.check_decide(d2)
    assert nxt.decide(d2, {}, T0, ids).result.state is State.RUNNING
    again = nxt.report(_step_started(held.grant.grant_id, held.grant.args_digest), T0)
    assert again == ("grant_reused", f"grant {held.grant.grant_id} was already used")


def _recorded_carried(scenario: str) -> list[dict[str, Any]]:
    """The `carried` input of every continued run in a recorded history (the old shape)."""
    case = load(HISTORIES / f"{scenario}.json")
    inputs = [
        json.loads(run.events[0].workflow_execution_started_event_attributes.input.payloads[0].data)
        for run in case.runs
    ]
    return [i["carried"] for i in inputs if i.get("carried") is not None]


def test_a_run_continued_before_instance_data_existed_still_starts() -> None:
    # Recorded before InstanceData (kept beside the newer recording of the scenario).
    legacy = _recorded_carried("continue-as-new.before-read-model-fields")
    assert legacy and all("used_grants" in c for c in legacy)
    last = legacy[-1]
    data = InstanceData.model_validate(last)
    assert data.run == last["run"] and data.state == last["state"]
    assert list(data.requests) == [r["request_id"] for r in last["requests"]]
    assert data.audit.count == last["audit_count"] and data.audit.head == last["audit_head"]
    assert data.creator == last["creator"] and set(data.outcomes) == set(last["outcomes"])
    grant = last["grants"][0]
    held = data.grants.grants[grant["grant_id"]]
    assert held.grant.args_digest == grant["args_digest"]
    assert held.active is (grant["grant_id"] in last["active_grants"]) and not held.used
    # Used grants and started steps come across too (the corpus has none used).
    used = {**last, "used_grants": [grant["grant_id"]], "started_steps": ["deploy"]}
    book = InstanceData.model_validate(used).grants
    assert book.grants[grant["grant_id"]].used and book.started("deploy")
    # Through Temporal's converter, as the next run's input.
    state = InstanceState(_through_temporal(_start(data)), T0)
    assert state.data == data
    assert state.log.count == last["audit_count"] and state.log.head == last["audit_head"]


_STATE = Path(gantral.__file__).parent / "workflows" / "state"


def _gantral_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _module_file(name: str) -> Path | None:
    base = Path(gantral.__file__).parent.parent / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_the_state_imports_nothing_of_temporal_even_indirectly() -> None:
    seen: set[str] = set()
    modules = (f"gantral.workflows.state.{p.stem}" for p in _STATE.glob("*.py"))
    todo = [m.removesuffix(".__init__") for m in modules]
    assert len(todo) >= 5
    offenders: list[str] = []
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        if "." in name:
            todo.append(name.rsplit(".", 1)[0])  # importing a module runs its packages too
        for imported in _gantral_imports(path):
            if imported.split(".")[0] == "temporalio":
                offenders.append(f"{name} imports {imported}")
            elif imported.startswith("gantral"):
                todo.append(imported)
    assert "gantral.workflows.messages" in seen and "gantral.workflows.audit_log" in seen
    assert offenders == []

"""Costs on the real stack (issue 21, items 2 and 6): strict finite numbers within a
documented bound, totals that can never overflow, and money that never moves between
currencies, refused (422) at the API and again by the workflow for any other client. The
instance stays readable, reportable and completable through all of it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from temporalio.client import Client

from gantral.core import GantralCore
from gantral.domain.actors import Actor, ActorKind
from gantral.domain.limits import MAX_COST_MONEY
from gantral.domain.records import Cost
from gantral.errors import GantralError, InvalidInput
from gantral.settings import Settings
from gantral.settings.audit import AuditSettings
from gantral.workflows.instance import InstanceWorkflow
from gantral.workflows.messages import AgentEvent, AgentEventKind, AgentEventResult
from tests.helpers.auth import bearer
from tests.helpers.serving import api_replica, asgi_client

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

RULES = """
teams:
  {team}:
    budget: {{period: day, money: 100, currency: USD}}
"""


@dataclass
class Served:
    app: FastAPI
    api: httpx.AsyncClient
    budgeted: str  # a team with a USD budget
    free: str  # a team with no budget

    @property
    def core(self) -> GantralCore:
        core: GantralCore = self.app.state.core
        return core

    def agent(self, team: str) -> dict[str, str]:
        return bearer(f"bot-{team}", teams=[team], agent=True)

    async def start(self, team: str) -> str:
        body = {"workflow_id": "deploy", "owning_team_id": team}
        resp = await self.api.post("/v1/instances", json=body, headers=self.agent(team))
        assert resp.status_code == 201, resp.text
        return str(resp.json()["instance_id"])

    async def cost(self, team: str, iid: str, cost: Any) -> httpx.Response:
        raw = json.dumps({"kind": "COST", "cost": cost}).encode()
        return await self.post(team, iid, raw)

    async def post(self, team: str, iid: str, raw: bytes) -> httpx.Response:
        headers = {**self.agent(team), "content-type": "application/json"}
        return await self.api.post(f"/v1/instances/{iid}/events", content=raw, headers=headers)

    async def view(self, team: str, iid: str) -> dict[str, Any]:
        resp = await self.api.get(f"/v1/instances/{iid}", headers=self.agent(team))
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    async def still_works(self, team: str, iid: str, money: float) -> None:
        """Readable, a small cost is still taken, and the instance completes."""
        assert (await self.view(team, iid))["cost"]["money"] == money
        small = await self.cost(team, iid, {"tokens": 5, "money": 1})
        assert small.status_code == 200, small.text
        assert small.json()["cost"]["money"] == money + 1
        done = await self.api.post(
            f"/v1/instances/{iid}/complete", json={}, headers=self.agent(team)
        )
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "COMPLETED" and done.json()["cost"]["money"] == money + 1


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    settings: Settings, temporal: Client, workers: None, audit_config: AuditSettings, tmp_path: Path
) -> AsyncIterator[Served]:
    budgeted, free = f"team-{uuid.uuid4().hex[:8]}", f"team-{uuid.uuid4().hex[:8]}"
    rules = tmp_path / "capacity.yaml"
    rules.write_text(RULES.format(team=budgeted))
    conf = settings.readiness.model_copy(
        update={"rules_file": rules, "schema_name": f"readiness_{uuid.uuid4().hex[:10]}"}
    )
    async with (
        api_replica(settings, temporal, audit_config, readiness=conf) as app,
        asgi_client(app) as client,
    ):
        yield Served(app, client, budgeted, free)


def _refused(resp: httpx.Response, reason: str | None = None) -> dict[str, Any]:
    assert resp.status_code == 422, (resp.status_code, resp.text)
    body = dict(resp.json())
    if reason is not None:
        assert body["reason"] == reason, body
    return body


async def test_two_huge_costs_cannot_overflow_the_total(served: Served) -> None:
    s, team = served, served.free
    iid = await s.start(team)
    # The attack: 1e308 twice overflowed the total to infinity. One is refused
    # already: past the bound of any cost.
    for _ in range(2):
        body = _refused(await s.cost(team, iid, {"money": 1e308}))
        assert "cost" in json.dumps(body)
    # Within the bound each, past it together: the second is refused (the workflow knows
    # the total) and nothing of it is counted.
    half = MAX_COST_MONEY * 0.6
    first = await s.cost(team, iid, {"money": half})
    assert first.status_code == 200, first.text
    _refused(await s.cost(team, iid, {"money": half}), "cost_too_large")
    _refused(await s.cost(team, iid, {"tokens": 2**53, "money": 1}))
    await s.still_works(team, iid, half)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"kind": "COST", "cost": {"money": "NaN"}}',
        b'{"kind": "COST", "cost": {"money": "Infinity"}}',
        b'{"kind": "COST", "cost": {"money": "-Infinity"}}',
        b'{"kind": "COST", "cost": {"money": "1e309"}}',
        b'{"kind": "COST", "cost": {"money": "12"}}',
        b'{"kind": "COST", "cost": {"money": 1e309}}',
        b'{"kind": "COST", "cost": {"money": NaN}}',
        b'{"kind": "COST", "cost": {"money": -1}}',
        b'{"kind": "COST", "cost": {"money": true}}',
        b'{"kind": "COST", "cost": {"tokens": "12"}}',
        b'{"kind": "COST", "cost": {"tokens": 1.5}}',
        b'{"kind": "COST", "cost": {"wall_time_seconds": "Infinity"}}',
        b'{"kind": "COST", "cost": {"wall_time_seconds": 1e10}}',
        b'{"kind": "COST", "cost": {"money": 1, "currency": "usd"}}',
        b'{"kind": "COST", "cost": {"money": 1, "currency": "US"}}',
    ],
)
async def test_cost_numbers_are_strict_and_finite(served: Served, raw: bytes) -> None:
    s, team = served, served.free
    iid = await s.start(team)
    _refused(await s.post(team, iid, raw))
    await s.still_works(team, iid, 0)


async def test_money_in_another_currency_than_the_budget_is_refused(served: Served) -> None:
    s, team = served, served.budgeted
    iid = await s.start(team)
    ok = await s.cost(team, iid, {"money": 2, "currency": "USD"})
    assert ok.status_code == 200, ok.text
    for currency in ("EUR", "GBP"):
        body = _refused(await s.cost(team, iid, {"money": 50, "currency": currency}))
        assert body["reason"] == "currency_mismatch" and "USD" in body["message"], body
    # Tokens alone carry no money: their (default) currency moves nothing.
    tokens = await s.cost(team, iid, {"tokens": 10, "currency": "EUR"})
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["cost"] == {
        "tokens": 10, "money": 2.0, "currency": "USD", "wall_time_seconds": 0.0,
    }  # fmt: skip
    # The budget saw only the USD spent.
    spent = await s.core._readiness.store.team_spend(  # type: ignore[union-attr]
        s.core._readiness.active.rules,  # type: ignore[union-attr]
        team,
        datetime.now(UTC),
    )
    assert spent is not None and spent[1] == 2.0
    await s.still_works(team, iid, 2)


async def test_the_workflow_refuses_what_the_api_would(served: Served) -> None:
    """Another client than the API (the same core, its checks skipped) is refused by the
    workflow itself: a total past its bound, money in another currency than the total's."""
    s, team = served, served.free
    iid = await s.start(team)
    actor = Actor(id=f"bot-{team}", kind=ActorKind.AGENT)

    async def direct(cost: Cost) -> AgentEventResult:
        event = AgentEvent(kind=AgentEventKind.COST, cost=cost, actor=actor)
        return await s.core._update(iid, InstanceWorkflow.report, event, None)

    first = await direct(Cost(money=MAX_COST_MONEY * 0.6, currency="EUR"))
    assert first.cost.money == MAX_COST_MONEY * 0.6 and first.cost.currency == "EUR"
    with pytest.raises(InvalidInput) as too_much:
        await direct(Cost(money=MAX_COST_MONEY * 0.6, currency="EUR"))
    assert too_much.value.reason == "cost_too_large"
    with pytest.raises(InvalidInput) as other:
        await direct(Cost(money=1, currency="USD"))
    assert other.value.reason == "currency_mismatch"
    # Past its own bounds, or a currency not written as ISO 4217 writes it: refused by the
    # validator too (such a report still decodes, as history from before the bounds must).
    for cost, reason in (
        (Cost.model_construct(tokens=0, money=MAX_COST_MONEY * 10, currency="EUR",
                              wall_time_seconds=0.0), "cost_too_large"),
        # Beyond ±(2^53-1) it is not even I-JSON, refused before any cost rule.
        (Cost.model_construct(tokens=0, money=1e308, currency="EUR", wall_time_seconds=0.0),
         "not_i_json"),
        (Cost.model_construct(tokens=0, money=1.0, currency="eur", wall_time_seconds=0.0),
         "invalid_currency"),
    ):  # fmt: skip
        with pytest.raises(InvalidInput) as refused:
            await direct(cost)
        assert refused.value.reason == reason
    # A number no `Cost` decodes (negative) is refused undecoded (the SDK's "Failed
    # decoding arguments"); either way the instance is as it was.
    negative = Cost.model_construct(tokens=0, money=-1.0, currency="EUR", wall_time_seconds=0.0)
    with pytest.raises(GantralError, match="decoding"):
        await direct(negative)
    view = await s.view(team, iid)
    assert view["cost"]["money"] == MAX_COST_MONEY * 0.6 and view["cost"]["currency"] == "EUR"

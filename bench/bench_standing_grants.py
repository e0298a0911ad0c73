"""Approval fatigue removed by standing grants (issue 24): a scripted day of governed steps.

The day: 500 governed steps by the payments agent of the examples (`pay-vendor` of
examples/policies/deploy.workflow.yaml, policy examples/policies/payments.yaml in
production, so every payment needs a TEAM_LEAD), the policy extended with
`standing: {max_ttl: 1h, max_uses: 50, roles: [TEAM_LEAD]}`. 60% of the steps repeat
one of a few patterns (the same vendor family, amounts up to a ceiling); the rest are
one-off payments. Steps arrive evenly over 8 hours.

Without standing grants every step needs a human decision. With them, the first step of
a pattern needs a human, who approves with a standing grant narrowed to that pattern
(the vendor prefix, amounts up to the approved amount); later steps inside it are
allowed by the real matcher and store (`gantral.governance.standing*`) until its hour or
its 50 uses run out, when the next one needs a human again. Each step's materiality is
the real policy evaluation; a step whose level the grant does not cover needs a human.

Usage: .venv/bin/python bench/bench_standing_grants.py [--steps 500] [--repeat 0.6]
"""

from __future__ import annotations

import argparse
import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gantral.governance.standing import ArgumentPattern, StandingGrant, widening
from gantral.governance.standing_store import InMemoryStandingStore
from gantral.policy.evaluate import plan_request
from gantral.policy.facts import step_facts
from gantral.policy.loading import load_policy
from gantral.policy.models import Standing

ROOT = Path(__file__).resolve().parent.parent
TEAM, WORKFLOW, STEP, AGENT = "finance", "deploy", "pay-vendor", "finance-bot"
TRIGGER = {"environment": "production"}
# The repeated patterns: (vendor prefix, ceiling of the approved amount).
PATTERNS = [("aws-invoice-", 900), ("saas-licence-", 300), ("payroll-batch-", 5000)]


def script(steps: int, repeat: float, seed: int) -> list[dict[str, Any]]:
    """The day's payments, in order: a share `repeat` inside the patterns."""
    rng = random.Random(seed)
    day = []
    for n in range(steps):
        if rng.random() < repeat:
            prefix, ceiling = rng.choice(PATTERNS)
            args = {"vendor": f"{prefix}{rng.randint(1, 40)}", "amount": rng.randint(1, ceiling),
                    "data_class": "INTERNAL"}  # fmt: skip
        else:
            args = {"vendor": f"one-off-{n}", "amount": rng.randint(1, 9000),
                    "data_class": "INTERNAL"}  # fmt: skip
        day.append(args)
    return day


def narrowed(args: dict[str, Any]) -> dict[str, ArgumentPattern] | None:
    """The approver's pattern for a payment of a known family (its vendor prefix, amounts
    up to the approved one): None for a one-off."""
    family = next((p for p, _ in PATTERNS if args["vendor"].startswith(p)), None)
    if family is None:
        return None
    return {
        "vendor": ArgumentPattern(prefix=family),
        "amount": ArgumentPattern(min=0, max=args["amount"]),
        "data_class": ArgumentPattern(equals=args["data_class"]),
    }


async def day_of(steps: int, repeat: float, seed: int, standing: bool) -> tuple[int, int]:
    """(human decisions, steps allowed by a standing grant)."""
    policy = load_policy((ROOT / "examples/policies/payments.yaml").read_text())
    bounds = Standing(max_ttl=timedelta(hours=1), max_uses=50, roles=["TEAM_LEAD"])
    policy = policy.model_copy(update={"standing": bounds})
    store = InMemoryStandingStore()
    start = datetime(2026, 12, 7, 9, tzinfo=UTC)
    humans = served = 0
    for n, args in enumerate(script(steps, repeat, seed)):
        now = start + timedelta(hours=8) * n / steps
        plan = plan_request(
            policy, step_facts(arguments=args, trigger_context=TRIGGER, owning_team_id=TEAM,
                               workflow_id=WORKFLOW)
        )  # fmt: skip
        if not plan.requires_human:
            continue
        if standing:
            claimed = await store.claim(TEAM, WORKFLOW, STEP, "pay", AGENT, args, now)
            if claimed is not None and plan.materiality.rank <= claimed.materiality.rank:
                served += 1
                continue
        humans += 1
        # The approver approves; for a known family, with a standing grant narrowed to
        # it (never at CRITICAL, where the policy allows none).
        pattern = narrowed(args)
        if not standing or pattern is None or plan.materiality.rank >= 3:
            continue
        assert widening(pattern, args) is None
        await store.add(
            StandingGrant(
                standing_id=f"stg_{n}", team=TEAM, workflow_id=WORKFLOW, step_id=STEP,
                action="pay", pattern=pattern, agent=AGENT, approver="lead",
                approver_role="TEAM_LEAD", instance_id=f"inst_{n}", request_id=f"req_{n}",
                materiality=plan.materiality, given_at=now, expires_at=now + bounds.max_ttl,
                max_uses=bounds.max_uses,
            )
        )  # fmt: skip
    return humans, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeat", type=float, default=0.6)
    parser.add_argument("--seed", type=int, default=24)
    a = parser.parse_args()
    without, _ = asyncio.run(day_of(a.steps, a.repeat, a.seed, standing=False))
    with_, served = asyncio.run(day_of(a.steps, a.repeat, a.seed, standing=True))
    print(f"scripted day: {a.steps} governed steps, {a.repeat:.0%} repeating a pattern")
    print(f"human decisions without standing grants: {without}")
    print(f"human decisions with standing grants:    {with_}  ({served} steps allowed by one)")
    if without:
        print(f"decisions removed: {without - with_} ({(without - with_) / without:.0%})")


if __name__ == "__main__":
    main()

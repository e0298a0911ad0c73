"""Policy evaluations per second on one core, for a realistic policy.

The policy has four materiality rules (numeric thresholds, equality, set membership,
a two-condition rule), per-materiality settings and a nested quorum
(`all_of(FINANCE, 1_of(CFO, CONTROLLER))`) in a two-tier escalation chain. One
evaluation is `plan_request` on a varying step context, the call made on every
authorize; a second figure adds the quorum check made on every approval.

The ratio against a trivial policy measured in the same run makes the figure
comparable across machines. Exits non-zero below the target.

    .venv/bin/python bench/bench_policy.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from gantral.policy.evaluate import plan_request
from gantral.policy.loading import load_policy
from gantral.policy.models import Policy
from gantral.policy.quorum import progress

TARGET = 20_000

REALISTIC = load_policy(
    """
materiality: LOW
materiality_rules:
  - {name: large, level: HIGH, when: [{field: arguments.amount, op: gt, value: 10000}]}
  - name: huge-in-prod
    level: CRITICAL
    when:
      - {field: arguments.amount, op: ge, value: 1000000}
      - {field: trigger.environment, op: eq, value: production}
  - {name: prod, level: MEDIUM, when: [{field: trigger.environment, op: eq, value: production}]}
  - {name: pii, level: HIGH, when: [{field: arguments.data_class, op: in, value: [PII, PHI]}]}
requires_human_approval: true
approvers: [{role: TEAM_LEAD}]
timeouts: {primary: 1h}
by_materiality:
  HIGH:
    approvers:
      all_of:
        - role: FINANCE
        - n_of: {n: 1, of: [{role: CFO}, {role: CONTROLLER}]}
    tiers:
      - {name: finance, timeout: 30m, reminders: [10m]}
      - {name: executives, approvers: {role: CFO}, timeout: 2h, reminders: [30m]}
    on_timeout: REJECT
    sla: 1h
    override_roles: [CFO]
    override_requires_second_signoff: true
""",
    source="bench",
)
TRIVIAL = Policy()

CONTEXTS: list[dict[str, Any]] = [
    {"trigger": {"environment": "staging"}, "arguments": {"amount": 50}},
    {"trigger": {"environment": "production"}, "arguments": {"amount": 500}},
    {"trigger": {"environment": "production"}, "arguments": {"amount": 25_000}},
    {"trigger": {"environment": "production"}, "arguments": {"amount": 2_000_000}},
    {"trigger": {"environment": "staging"}, "arguments": {"amount": 10, "data_class": "PII"}},
]
APPROVALS = {"alice": "FINANCE", "bob": "CFO", "carol": "CONTROLLER"}


def rate(fn: Callable[[int], None], seconds: float = 1.0) -> float:
    """Best of three timed runs, each about `seconds` long: evaluations per second."""
    n = 1000
    while True:  # calibrate
        start = time.perf_counter()
        fn(n)
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 10:
            break
        n *= 2
    n = max(1, int(n * seconds / elapsed))
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        fn(n)
        best = max(best, n / (time.perf_counter() - start))
    return best


def realistic(n: int) -> None:
    contexts = CONTEXTS
    for i in range(n):
        plan_request(REALISTIC, contexts[i % 5])


def realistic_with_quorum(n: int) -> None:
    contexts = CONTEXTS
    for i in range(n):
        plan = plan_request(REALISTIC, contexts[i % 5])
        if plan.tiers:
            progress(plan.tiers[0].approvers, APPROVALS, excluded=("carol",))


def trivial(n: int) -> None:
    for _ in range(n):
        plan_request(TRIVIAL, {})


def main() -> int:
    baseline = rate(trivial)
    evals = rate(realistic)
    with_quorum = rate(realistic_with_quorum)
    for label, value in (
        ("trivial policy (baseline)", baseline),
        ("realistic policy", evals),
        ("realistic policy + quorum check", with_quorum),
    ):
        print(f"{label:<32} {value:>10,.0f} evals/s  ({value / baseline:.2f}x baseline)")
    met = evals >= TARGET
    print(f"target {TARGET:,} evals/s on one core: {'met' if met else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""Execution readiness (reference §3.4): may a governed step run *now*?

An instance can be RUNNING yet not runnable: its team is at its concurrency limit, its
budget is spent, a rate limit or the plane's own capacity holds it, or other teams are
ahead of it in the fair order. Readiness is derived when asked, from capacity rules
(YAML, hot-reloaded) and counters in PostgreSQL that can be lost and rebuilt from the
instances. It is never stored as a state, never audited and never part of replay: the
gate sits in front of the workflow, in the API process.
"""

from gantral.readiness.evaluate import Usage, evaluate, period_bounds
from gantral.readiness.gate import ActiveRules, ReadinessGate, ReadinessObserver
from gantral.readiness.rebuild import usage_from_events
from gantral.readiness.rules import CapacityRules, load_rules
from gantral.readiness.store import CounterStore, InstanceUsage, RunningStep, SpendItem
from gantral.readiness.verdict import Ask, Check, Verdict

__all__ = [
    "ActiveRules",
    "Ask",
    "CapacityRules",
    "Check",
    "CounterStore",
    "InstanceUsage",
    "ReadinessGate",
    "ReadinessObserver",
    "RunningStep",
    "SpendItem",
    "Usage",
    "Verdict",
    "evaluate",
    "load_rules",
    "period_bounds",
    "usage_from_events",
]

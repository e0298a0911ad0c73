"""Declarative policies: pydantic models of policy files, loading, and pure evaluation.

Workflow code may import anything re-exported here: it is all pure (no I/O, no clock,
no randomness). Storage lives in `registry`, `registry_postgres` and `watcher`, which
workflow code must not import.
"""

from gantral.policy.evaluate import classify, needs_more_authority, plan_request
from gantral.policy.explain import Actors, DecisionPath, explain
from gantral.policy.materiality import Materiality
from gantral.policy.models import OnTimeout, Policy
from gantral.policy.plan import RequestPlan, Tier
from gantral.policy.quorum import QuorumProgress, min_humans, progress

__all__ = [
    "Actors",
    "DecisionPath",
    "Materiality",
    "OnTimeout",
    "Policy",
    "QuorumProgress",
    "RequestPlan",
    "Tier",
    "classify",
    "explain",
    "min_humans",
    "needs_more_authority",
    "plan_request",
    "progress",
]

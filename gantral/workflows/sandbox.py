"""The sandbox every Gantral workflow runs in: the worker's, and every replay's (the API's
replay route, `gantral replay`, the replay corpus), so a replay sees what the worker saw."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

__all__ = ["SANDBOX_RUNNER"]

# Gantral's pure modules (and the libraries they use) are deterministic: share them with the
# sandbox instead of re-importing them per workflow, so model classes stay identical.
SANDBOX_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "gantral",
        "pydantic",
        "pydantic_core",
        "rfc8785",
        "annotated_types",
        "cryptography",
        # Temporal's tracing interceptor runs inside workflows (its spans are replay-safe).
        "opentelemetry",
    )
)

"""Metrics named outside Gantral's own exporters."""

from __future__ import annotations

# The Temporal SDK's metrics the dashboard uses; a real worker/sink scrape must have them.
TEMPORAL_SDK_METRICS = {
    "temporal_activity_execution_latency_bucket",
    "temporal_workflow_task_execution_latency_count",
}

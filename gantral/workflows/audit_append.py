"""The audit sink's activity as workflows schedule it: its registered name and its types.

The sink process serves it (`gantral.activities.audit_sink.AuditSinkActivities.append`,
heartbeating through `gantral.activities.heartbeats.append_with_heartbeats`). Workflows
reference this declaration, not the sink's class, so workflow code never imports the
audit store, its database or object-storage clients. The name is in every recorded
history: it never changes.
"""

from __future__ import annotations

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from gantral.domain.audit_event import AUDIT_APPEND_ACTIVITY, AppendAuditEvents, AppendResult

__all__ = ["append_audit_events"]


@activity.defn(name=AUDIT_APPEND_ACTIVITY)
async def append_audit_events(request: AppendAuditEvents) -> AppendResult:
    """Store a batch of one instance's consecutive audit events in one transaction and
    answer with what is stored. Served by the audit sink process only."""
    raise NotImplementedError("served by the audit sink process (gantral.workers.sink)")

"""The audit append the workflow schedules is the activity the sink serves: the same
registered name (in every recorded history) and the same argument and result types."""

from __future__ import annotations

from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.activity import _Definition

from gantral.activities.audit_sink import AuditSinkActivities
from gantral.activities.heartbeats import append_with_heartbeats
from gantral.attestation import TrustAnchors
from gantral.audit.sink import AuditSink
from gantral.workflows.audit_append import append_audit_events


def _signature(fn: Any) -> tuple[str | None, list[type] | None, type | None]:
    defn = _Definition.must_from_callable(fn)
    return defn.name, defn.arg_types, defn.ret_type


def test_the_sink_serves_the_declared_activity() -> None:
    declared = _signature(append_audit_events)
    assert declared[0] == "gantral.audit.append"
    anchors = TrustAnchors.of([Ed25519PrivateKey.generate().public_key()])
    activities = AuditSinkActivities(cast(AuditSink, None), anchors)  # never called here
    assert _signature(activities.append) == declared
    assert _signature(append_with_heartbeats(activities)) == declared

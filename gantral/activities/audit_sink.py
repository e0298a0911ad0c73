"""The `gantral.audit.append` activity, served only by the sink process.

A thin translation layer: the sink service raises the Gantral error tree, and this turns
it into Temporal's through the hosts' one converter (`to_application_error`: the type is
the error's code, the details hold its reason). Refusals are final (retrying cannot
help); `Unavailable` (a sequence gap, storage down) is retried, so the workflow waits
until the event is durably stored (fail closed).
"""

from __future__ import annotations

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from psycopg_pool import PoolTimeout
from temporalio import activity

from gantral.attestation import TrustAnchors
from gantral.audit.admission import check_attested, check_origin
from gantral.audit.sink import AuditSink
from gantral.domain.audit_event import AUDIT_APPEND_ACTIVITY, AppendAuditEvents, AppendResult
from gantral.errors import Forbidden, GantralError, Reason, Unavailable
from gantral.workflows.temporal_refusals import to_application_error

__all__ = ["AuditSinkActivities"]


class AuditSinkActivities:
    def __init__(self, sink: AuditSink, anchors: TrustAnchors) -> None:
        self._sink = sink
        self._anchors = anchors

    @activity.defn(name=AUDIT_APPEND_ACTIVITY)
    async def append(self, request: AppendAuditEvents) -> AppendResult:
        try:
            return await self._append(request)
        except Forbidden as error:
            activity.logger.warning("audit batch refused: %s", error.message)
            raise to_application_error(error) from error
        except Unavailable as error:  # a sequence gap too: the earlier events are in flight
            raise to_application_error(error, retryable=True) from error
        except GantralError as error:
            raise to_application_error(error) from error

    async def _append(self, request: AppendAuditEvents) -> AppendResult:
        """The sink's answer, its storage's failures as the Gantral error tree."""
        try:
            info = activity.info()
            check_origin(request, info.workflow_type or "", info.workflow_id or "")
            for event in request.events:
                check_attested(event, self._anchors)
            return await self._sink.append(request)
        except (psycopg.OperationalError, PoolTimeout) as error:
            # The message names the failing host at most, never credentials.
            activity.logger.warning("audit store unavailable: %s", type(error).__name__)
            raise Unavailable(
                "audit database unavailable", reason=Reason.AUDIT_DB_UNAVAILABLE
            ) from error
        except (BotoCoreError, ClientError) as error:
            activity.logger.warning("audit object storage unavailable: %s", type(error).__name__)
            raise Unavailable(
                "audit object storage unavailable", reason=Reason.AUDIT_UNAVAILABLE
            ) from error

"""The `gantral.audit.append` activity, served only by the sink process.

A thin translation layer: the sink service raises the Gantral error tree, and this turns
it into Temporal's retry semantics. Conflicts and invalid input are final (retrying
cannot help); gaps and unavailable storage are retried, so the workflow waits until
the event is durably stored (fail closed).
"""

from __future__ import annotations

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from psycopg_pool import PoolTimeout
from temporalio import activity
from temporalio.exceptions import ApplicationError

from gantral.attestation import TrustAnchors
from gantral.audit.admission import check_attested, check_origin
from gantral.audit.sink import AuditSink
from gantral.audit.store import SequenceGap
from gantral.domain.audit_event import AUDIT_APPEND_ACTIVITY, AppendAuditEvents, AppendResult
from gantral.errors import Conflict, Forbidden, InvalidInput, Unavailable

__all__ = ["AuditSinkActivities"]


class AuditSinkActivities:
    def __init__(self, sink: AuditSink, anchors: TrustAnchors) -> None:
        self._sink = sink
        self._anchors = anchors

    @activity.defn(name=AUDIT_APPEND_ACTIVITY)
    async def append(self, request: AppendAuditEvents) -> AppendResult:
        try:
            info = activity.info()
            check_origin(request, info.workflow_type or "", info.workflow_id or "")
            for event in request.events:
                check_attested(event, self._anchors)
            return await self._sink.append(request)
        except Forbidden as error:
            activity.logger.warning("audit batch refused: %s", error.message)
            raise ApplicationError(error.message, type="Forbidden", non_retryable=True) from error
        except Conflict as error:
            raise ApplicationError(error.message, type="Conflict", non_retryable=True) from error
        except InvalidInput as error:
            raise ApplicationError(
                error.message, type="InvalidInput", non_retryable=True
            ) from error
        except SequenceGap as error:
            raise ApplicationError(error.message, type="SequenceGap") from error
        except Unavailable as error:
            raise ApplicationError(error.message, type="Unavailable") from error
        except (psycopg.OperationalError, PoolTimeout) as error:
            # The message names the failing host at most, never credentials.
            activity.logger.warning("audit store unavailable: %s", type(error).__name__)
            raise ApplicationError("audit database unavailable", type="Unavailable") from error
        except (BotoCoreError, ClientError) as error:
            activity.logger.warning("audit object storage unavailable: %s", type(error).__name__)
            raise ApplicationError(
                "audit object storage unavailable", type="Unavailable"
            ) from error

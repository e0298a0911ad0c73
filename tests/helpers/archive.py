"""A sealed instance's history after retention: the sink's HISTORY_ARCHIVED record, and
the history deleted from Temporal as retention would."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from gantral.audit.history_archive import history_chain_id
from tests.helpers.auth import AUDITOR


async def archive_record(api: httpx.AsyncClient, iid: str) -> dict[str, object]:
    """The sealed HISTORY_ARCHIVED record, once the sink's archiver has written it."""
    chain = history_chain_id(iid)
    for _ in range(150):
        resp = await api.get(f"/v1/audit/instances/{chain}", headers=AUDITOR)
        if resp.status_code == 200 and resp.json()["sealed"]:
            [record, seal] = resp.json()["events"]
            assert seal["type"] == "INSTANCE_SEALED"
            assert record["type"] == "HISTORY_ARCHIVED"
            return dict(record["payload"])
        await asyncio.sleep(0.2)
    raise AssertionError(f"the history of {iid} was not archived in time")


async def delete_history(temporal: Client, iid: str) -> None:
    await temporal.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace=temporal.namespace, workflow_execution=WorkflowExecution(workflow_id=iid)
        )
    )
    for _ in range(240):  # deletion is asynchronous on the server
        try:
            await temporal.get_workflow_handle(iid).fetch_history()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return
            raise
        await asyncio.sleep(0.25)
    raise AssertionError(f"Temporal still holds the history of {iid}")

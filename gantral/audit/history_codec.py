"""An instance's Temporal history as the sink archives it: every run, fetched from the
server, and the archive's codec (`gantral.audit.history_archive` stores it; replay reads it).

Archive format (canonical JSON, content-addressed like evidence bundles):

    {"format": "gantral-history-archive/v1", "instance_id": ..., "runs": [<history JSON>...]}

with runs oldest first, each in the JSON form `temporal workflow show --output json` and
`WorkflowHistory.to_json` use.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from gantral.domain.digest import canonical_bytes
from gantral.errors import InvalidInput, NotFound, Reason
from gantral.temporal_codec import ENCODING, CodecError, client_codec, decode_in_place

__all__ = ["ARCHIVE_FORMAT", "decode_archive", "encode_archive", "fetch_runs"]

ARCHIVE_FORMAT = "gantral-history-archive/v1"
# Bounds a walk back through continue-as-new runs (a loop would be a corrupt history).
_MAX_RUNS = 10_000


async def fetch_runs(client: Client, instance_id: str) -> list[WorkflowHistory]:
    """Every run of the instance's workflow, oldest first, its payloads decoded with the
    client's codec if it has one (so an archive is readable without Temporal's keys).
    `NotFound` when the server has no history (never started, or dropped after retention)."""
    codec = client_codec(client)
    runs: list[WorkflowHistory] = []
    run_id: str | None = None
    try:
        while len(runs) < _MAX_RUNS:
            history = await client.get_workflow_handle(instance_id, run_id=run_id).fetch_history()
            if codec is not None:
                for event in history.events:
                    decode_in_place(event, codec)
            elif _encrypted(history):
                raise CodecError(
                    f"the history of {instance_id} is encrypted with Gantral's payload codec:"
                    " give this process GANTRAL_TEMPORAL__CODEC__* like the others",
                    reason=Reason.CODEC_NOT_CONFIGURED,
                )
            runs.append(history)
            previous = _started(history).continued_execution_run_id
            if not previous:
                break
            run_id = previous
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
        if not runs:
            raise NotFound(
                f"Temporal holds no history for {instance_id}", reason=Reason.HISTORY_NOT_FOUND
            ) from None
        # An earlier run already past retention: what is left would replay as a fragment.
        raise NotFound(
            f"an earlier run of {instance_id} is no longer on the Temporal server",
            reason=Reason.HISTORY_INCOMPLETE,
        ) from None
    runs.reverse()
    return runs


def _encrypted(history: WorkflowHistory) -> bool:
    payloads = _started(history).input.payloads
    return bool(payloads) and payloads[0].metadata.get("encoding") == ENCODING


def _started(history: WorkflowHistory) -> Any:
    if not history.events or history.events[0].event_type != (
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    ):
        raise InvalidInput(f"history of {history.workflow_id} does not begin with its start")
    return history.events[0].workflow_execution_started_event_attributes


def encode_archive(instance_id: str, runs: list[WorkflowHistory]) -> tuple[bytes, str]:
    """Canonical bytes of the archive and their SHA-256 (its content address)."""
    data = canonical_bytes(
        {
            "format": ARCHIVE_FORMAT,
            "instance_id": instance_id,
            "runs": [run.to_json_dict() for run in runs],
        }
    )
    return data, hashlib.sha256(data).hexdigest()


def decode_archive(data: bytes, instance_id: str | None = None) -> list[WorkflowHistory]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"history archive is not JSON: {error}") from None
    if not isinstance(doc, dict) or doc.get("format") != ARCHIVE_FORMAT:
        raise InvalidInput(f"not a {ARCHIVE_FORMAT} document")
    owner = doc.get("instance_id")
    if not isinstance(owner, str) or (instance_id is not None and owner != instance_id):
        raise InvalidInput(f"history archive belongs to {owner!r}, not {instance_id!r}")
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs:
        raise InvalidInput("history archive holds no runs")
    try:
        return [WorkflowHistory.from_json(owner, run) for run in runs]
    except Exception as error:  # protobuf's ParseError and friends
        raise InvalidInput(f"history archive run is malformed: {error}") from None

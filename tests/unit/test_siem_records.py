"""The SIEM exporter's pure parts: the CloudEvents and OCSF shapes of one stored event,
Retry-After parsing, backoff bounds, and the command's refusals."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from gantral.audit.encoding import GENESIS, chain_hash, encode_body
from gantral.audit.rows import EventRow
from gantral.audit.siem_outputs import RetryPolicy, retry_after_seconds
from gantral.audit.siem_records import cloud_event, ocsf_record
from gantral.audit.testing import make_events
from gantral.cli import app
from gantral.domain.actors import Actor, ActorKind
from gantral.settings.exporter import ExporterSettings
from tests.helpers.older_payloads import older


def _row(actor: Actor | None = None, type_index: int = 0) -> EventRow:
    event = make_events("inst_1", 3)[type_index]
    if actor is not None:
        event = event.model_copy(update={"actor": actor})
    body = encode_body(event, None)
    return EventRow(
        41, "inst_1", event.seq, str(event.type), body, GENESIS, chain_hash(GENESIS, body)
    )


def test_cloud_event_is_structured_mode_with_the_proof_fields() -> None:
    row = _row()
    event = cloud_event(row, "urn:gantral:audit:prod")
    assert event["specversion"] == "1.0"
    assert (event["id"], event["subject"], event["source"]) == (
        "inst_1:1",
        "inst_1",
        "urn:gantral:audit:prod",
    )
    assert event["type"] == "dev.gantral.audit.instance_started"
    assert event["data"] == json.loads(row.body)
    assert event["gantrallogindex"] == 41
    assert event["gantralhash"] == row.hash.hex()
    assert event["gantralleafhash"] == hashlib.sha256(b"\x00" + row.hash).hexdigest()
    # Extension names: lower-case letters and digits only (CloudEvents 1.0).
    assert all(key.isalnum() and key.islower() for key in event)


def test_ocsf_record_is_api_activity_with_ai_agent_for_agents() -> None:
    agent = Actor(id="bot-7", kind=ActorKind.AGENT, owner="alice@example.com")
    record = ocsf_record(_row(agent), "prod")
    assert (record["class_uid"], record["category_uid"]) == (6003, 6)
    assert record["type_uid"] == 600301
    assert record["ai_agent"] == {
        "uid": "bot-7",
        "name": "bot-7",
        "owner": {"uid": "alice@example.com"},
    }
    assert record["metadata"]["profiles"] == ["ai_operation"]
    assert record["time"] == int(datetime(2026, 11, 25, 12, 0, 0, 1000, UTC).timestamp() * 1000)
    assert record["unmapped"]["gantral"]["log_index"] == 41
    human = ocsf_record(_row(), "prod")
    assert "ai_agent" not in human
    assert human["actor"]["user"]["uid"] == "gantral"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Sun, 06 Dec 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Sun, 06 Dec 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_backoff_grows_to_its_ceiling() -> None:
    policy = RetryPolicy(max_attempts=5, initial=1.0, maximum=8.0, retry_after_max=60)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        assert ceiling / 2 <= policy.backoff(attempt) <= ceiling


def test_cloudevents_needs_an_http_url() -> None:
    with pytest.raises(ValidationError, match=r"exporter\.url"):
        ExporterSettings(to="cloudevents")
    with pytest.raises(ValidationError, match=r"exporter\.url"):
        ExporterSettings(to="cloudevents", url="file:///etc/passwd")
    assert ExporterSettings(to="cloudevents", url="https://siem.example.com/ingest").url


def test_stream_command_refuses_a_bad_destination() -> None:
    result = CliRunner().invoke(app, ["audit", "stream", "--to", "syslog"])
    assert result.exit_code == 2
    assert "cloudevents or ocsf" in result.output
    result = CliRunner().invoke(app, ["audit", "stream", "--to", "cloudevents"])
    assert result.exit_code == 2
    assert "exporter.url" in result.output


def _raw_row(type_: str, payload: object) -> EventRow:
    body = json.dumps({"type": type_, "at": "2026-11-25T12:55:00Z", "payload": payload,
                       "actor": {"id": "bot", "kind": "agent"}}).encode()  # fmt: skip
    return EventRow(42, "inst_1", 3, type_, body, GENESIS, chain_hash(GENESIS, body))


def test_ocsf_names_the_request_of_an_event_an_earlier_release_wrote() -> None:
    # HUMAN_REQUESTED before separation_of_duties and grant_holder were recorded.
    record = ocsf_record(_raw_row("HUMAN_REQUESTED", older("HUMAN_REQUESTED")), "prod")
    assert record["api"]["request"] == {"uid": "req_1"}


def test_an_event_no_model_reads_is_exported_whole_without_its_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    row = _raw_row("HUMAN_REQUESTED", {"request_id": "req_1"})  # fields missing
    record = ocsf_record(row, "prod")
    assert "request" not in record["api"]
    assert record["unmapped"]["gantral"]["event"] == json.loads(row.body)
    assert "names no request" in caplog.text

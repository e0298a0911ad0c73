"""The inbox's page tokens and its requests-already-read cache (no stack needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gantral.audit.pending import PendingRequest
from gantral.channels.inbox import SeenRequests, decode_page_token, encode_page_token
from gantral.errors import NotFound, Reason
from tests.helpers.human_requests import request

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def row(rid: str = "req_1", **changes: object) -> PendingRequest:
    base = PendingRequest(
        request_id=rid, instance_id="inst_1", workflow_id="wf", team_id="payments",
        deadline=NOW + timedelta(hours=1), opened_at=NOW, roles_needed=["TECH_LEAD"],
        still_needed=["TECH_LEAD"], tier=0, approved_by=[],
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("deadline", [None, NOW + timedelta(minutes=5)])
def test_a_page_token_names_the_key_it_was_made_from(deadline: datetime | None) -> None:
    key = (deadline, NOW, "req_é/1")
    assert decode_page_token(encode_page_token(key)) == key


@pytest.mark.parametrize(
    "token",
    ["", "nonsense", "e30", "W251bGwsIDEsIDJd", "%%%", "WyJ4IiwgInkiLCAieiJd",
     "W251bGwsICIyMDI2LTEyLTA2VDEyOjAwOjAwIiwgInIiXQ"],  # naive time
)  # fmt: skip
def test_a_malformed_page_token_is_refused_by_name(token: str) -> None:
    with pytest.raises(NotFound) as refused:
        decode_page_token(token)
    assert refused.value.reason is Reason.BAD_PAGE_TOKEN and "page_token" in str(refused.value)


def test_a_request_is_read_again_once_its_version_changes() -> None:
    seen = SeenRequests(capacity=2)
    seen.put(row(), request())
    kept = seen.get(row())
    assert kept is not None and kept.arguments == request().arguments
    assert kept.context_snapshot == {}  # never shown in the inbox: not kept
    assert seen.get(row(approved_by=["bob"])) is None  # an approval since
    assert seen.get(row(tier=1, still_needed=["SRE_MANAGER"])) is None  # escalated
    assert seen.get(row(deadline=NOW + timedelta(hours=2))) is None  # a halt moved it
    # Bounded: the least recently listed goes first.
    seen.put(row("req_2"), request(request_id="req_2"))
    assert seen.get(row()) is not None
    seen.put(row("req_3"), request(request_id="req_3"))
    assert seen.get(row("req_2")) is None and seen.get(row()) is not None


def test_a_decision_relayed_here_forgets_the_request() -> None:
    seen = SeenRequests()
    seen.put(row(), request())
    seen.forget("req_1")
    assert seen.get(row()) is None
    seen.forget("req_unknown")  # nothing read of it: nothing to forget

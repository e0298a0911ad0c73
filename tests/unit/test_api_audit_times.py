"""The refusals list's `since`/`until` take exactly what the contract declares: an RFC 3339
`date-time` with seconds and an offset. Pydantic alone also reads a number as seconds
since 1970 (`until=0.5` was answered 200, a schema-invalid request accepted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gantral.api import errors, times
from gantral.api.authz import AuditRefusals, _audit_refusals
from gantral.api.routers import audit
from gantral.audit.views import RefusalPage

ROUTE = "/v1/audit/refusals"


class _Reader:
    """Only what the route calls: `refusals`, recording the filters it was given."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def refusals(self, **filters: Any) -> RefusalPage:
        self.calls.append(filters)
        return RefusalPage(items=[], next_page_token=None)


@pytest.fixture
def reader() -> _Reader:
    return _Reader()


@pytest.fixture
def client(reader: _Reader) -> TestClient:
    app = FastAPI()
    errors.install(app)
    app.include_router(audit.router)
    app.dependency_overrides[_audit_refusals] = lambda: AuditRefusals(reader, None)  # type: ignore[arg-type]
    return TestClient(app)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("2026-11-26T10:00:00Z", datetime(2026, 11, 26, 10, tzinfo=UTC)),
        ("2026-11-26t10:00:00.25z", datetime(2026, 11, 26, 10, 0, 0, 250000, tzinfo=UTC)),
        (
            "2026-11-26T10:00:00+05:30",
            datetime(2026, 11, 26, 10, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
    ],
)
def test_rfc3339_times_reach_the_reader(
    client: TestClient, reader: _Reader, text: str, parsed: datetime
) -> None:
    resp = client.get(ROUTE, params={"since": text, "until": text})
    assert resp.status_code == 200, resp.text
    assert reader.calls[-1]["since"] == parsed == reader.calls[-1]["until"]


@pytest.mark.parametrize(
    "text",
    [
        "0.5",  # seconds since 1970, to pydantic
        "1764151200",
        "2026-11-26T10:00Z",  # no seconds
        "2026-11-26 10:00:00Z",  # not `T`
        "2026-11-26T10:00:00",  # no offset: never read as some local time
        "2026-11-26",
        "2026-02-30T10:00:00Z",  # matches the pattern, not a date
    ],
)
@pytest.mark.parametrize("name", ["since", "until"])
def test_other_times_are_a_typed_422_naming_the_parameter(
    client: TestClient, reader: _Reader, name: str, text: str
) -> None:
    resp = client.get(ROUTE, params={name: text})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert (body["error"], body["reason"]) == ("invalid_input", "validation_failed")
    assert [e["field"] for e in body["details"]["errors"]] == [f"query.{name}"]
    assert reader.calls == []


def test_the_contract_declares_the_same_rule(client: TestClient) -> None:
    parameters = client.get("/openapi.json").json()["paths"][ROUTE]["get"]["parameters"]
    for parameter in parameters:
        if parameter["name"] in ("since", "until"):
            declared = parameter["schema"]["anyOf"][0]
            assert declared["format"] == "date-time"
            assert declared["pattern"] == times._RFC3339

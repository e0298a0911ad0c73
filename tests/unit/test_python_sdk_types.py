"""The Python SDK's wire models are generated from specs/openapi.json and agree with the
server's own models: the same fields, the same defaults, and they read what it writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import gantral_sdk as sdk
import pytest
from gantral_sdk import _types_gen
from pydantic import BaseModel

from gantral import python_sdk_types
from gantral.audit import views
from gantral.channels import inbox
from gantral.domain import actors, materiality, records, states
from gantral.workflows import messages

_SERVER = (records, states, actors, materiality, messages, inbox, views)


def test_committed_models_match_the_spec() -> None:
    assert python_sdk_types.TARGET.read_text() == python_sdk_types.rendered(), (
        "run `make sdk-types` (python -m gantral.python_sdk_types)"
    )
    assert python_sdk_types.main(["--check"]) == 0


def test_a_changed_spec_changes_the_models() -> None:
    spec = json.loads(python_sdk_types.SPEC.read_text())
    spec["components"]["schemas"]["Grant"]["properties"]["note"] = {"type": "string"}
    assert "    note: str | None = None\n" in python_sdk_types.render(spec)


def _server_twin(name: str) -> type | None:
    for module in _SERVER:
        if hasattr(module, name):
            twin: type = getattr(module, name)
            return twin
    return None


@pytest.mark.parametrize("name", _types_gen.__all__)
def test_each_model_has_the_servers_fields_and_defaults(name: str) -> None:
    ours = getattr(_types_gen, name)
    theirs = _server_twin(name)
    if theirs is None:
        pytest.skip(f"{name} is an API view with no twin in the domain modules")
    if not issubclass(ours, BaseModel):
        assert [m.value for m in ours] == [m.value for m in theirs]
        return
    assert issubclass(theirs, BaseModel)
    # The server's computed fields (InstanceView.runnable) are plain fields on the wire.
    assert set(ours.model_fields) == set(theirs.model_fields) | set(theirs.model_computed_fields)
    for field, info in theirs.model_fields.items():
        mine = ours.model_fields[field]
        assert mine.is_required() == info.is_required(), field
        if not info.is_required():
            assert mine.get_default(call_default_factory=True) == info.get_default(
                call_default_factory=True
            ), field


def test_the_models_read_what_the_server_writes() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    grant = records.Grant(
        grant_id="g", step_id="s", request_id="r", args_digest="d",
        arguments={"n": 1.5, "big": 2**53 - 1, "nested": [{"a": None}]}, expires_at=now,
    )  # fmt: skip
    request = records.HumanRequest(
        request_id="r", step_id="s", action="a", arguments=grant.arguments, args_digest="d",
        materiality=materiality.Materiality.HIGH, required_approvers=["TECH_LEAD"],
        deadline=now, context_snapshot={}, created_at=now,
        status=records.RequestStatus.APPROVED, grant=grant,
    )  # fmt: skip
    read = sdk.HumanRequest.model_validate_json(request.model_dump_json())
    assert read.status is sdk.RequestStatus.APPROVED
    assert read.grant is not None and read.grant.arguments == grant.arguments
    assert read.model_dump(mode="json") == request.model_dump(mode="json")

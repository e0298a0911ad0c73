"""A Gantral refusal crosses into Temporal as the ApplicationError the client maps back."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from gantral.errors import Conflict, Forbidden
from gantral.workflows.refusals import invalid, refuse
from gantral.workflows.temporal_refusals import as_temporal, to_application_error


def test_the_code_is_the_type_and_the_reason_the_only_detail() -> None:
    error = to_application_error(Conflict("instance is COMPLETED", reason="terminal"))
    assert error.type == "conflict" and error.message == "instance is COMPLETED"
    assert error.details == ({"reason": "terminal"},) and error.non_retryable
    # A refusal stored with an outcome (code, reason, message) comes back as the same one.
    again = to_application_error(refuse("forbidden", "no_role", "holds no role"))
    assert (again.type, again.details, again.message) == (
        Forbidden.code, ({"reason": "no_role"},), "holds no role"
    )  # fmt: skip


def test_as_temporal_converts_refusals_only_and_keeps_their_cause() -> None:
    cause = ValueError("not I-JSON")
    with pytest.raises(ApplicationError) as info, as_temporal():
        raise invalid("not_canonical_json", "detail is not I-JSON") from cause
    assert info.value.type == "invalid_input" and info.value.__cause__ is cause
    with pytest.raises(KeyError), as_temporal():
        raise KeyError("a bug is not a refusal")

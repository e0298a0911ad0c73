"""A halt's refusal reaches a Python agent as its own class, naming the halt (issue 24)."""

from __future__ import annotations

import gantral_sdk as sdk
import httpx
import pytest
from gantral_sdk._errors import error_from_response


def _answer(status: int, body: dict[str, object]) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", "http://g/v1/x"))


def test_a_halted_refusal_is_its_own_class_with_the_halt() -> None:
    error = error_from_response(
        _answer(
            409,
            {
                "error": "conflict",
                "reason": "halted",
                "message": "authorize refused: team payments is halted (h-1): incident 42",
                "details": {"halt_id": "h-1", "halt_reason": "incident 42"},
            },
        )
    )
    assert isinstance(error, sdk.Halted) and isinstance(error, sdk.Conflict)
    assert (error.halt_id, error.halt_reason, error.reason) == ("h-1", "incident 42", "halted")


@pytest.mark.parametrize("reason", ["grant_reused", "already_decided", None])
def test_other_conflicts_are_not_halts(reason: str | None) -> None:
    body: dict[str, object] = {"error": "conflict", "message": "no"}
    if reason:
        body["reason"] = reason
    error = error_from_response(_answer(409, body))
    assert type(error) is sdk.Conflict


def test_a_halt_without_details_still_reads() -> None:
    error = error_from_response(
        _answer(409, {"error": "conflict", "reason": "halted", "message": "x"})
    )
    assert isinstance(error, sdk.Halted) and error.halt_id is None

"""The SDK's own args_digest and callback verification agree with the server's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gantral_sdk as sdk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gantral.callbacks import signing
from gantral.domain.digest import args_digest

SPECS = Path(__file__).parents[2] / "specs"
VECTORS = json.loads((SPECS / "webhook-vectors.json").read_text())
DIGESTS = json.loads((SPECS / "digest-vectors.json").read_text())
# I-JSON values: what the API accepts as arguments.
_SAFE = 2**53 - 1
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-_SAFE, _SAFE)
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
    | st.text()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(action=st.text(), arguments=st.dictionaries(st.text(), _values, max_size=6))
def test_the_sdk_digest_is_the_servers(action: str, arguments: dict[str, Any]) -> None:
    assert sdk.args_digest(action, arguments) == args_digest(action, arguments)


@pytest.mark.parametrize(
    "arguments",
    [{}, {"amount": 10}, {"amount": 10.0}, {"b": 1, "a": [1, "é", None]}, {"x": 1e21}],
)
def test_known_digests(arguments: dict[str, Any]) -> None:
    assert sdk.args_digest("pay", arguments) == args_digest("pay", arguments)


@pytest.mark.parametrize("vector", DIGESTS["vectors"], ids=lambda v: v["name"])
def test_digest_vectors(vector: dict[str, Any]) -> None:
    assert sdk.args_digest(vector["action"], vector["arguments"]) == vector["args_digest"]


@pytest.mark.parametrize("vector", DIGESTS["refused"], ids=lambda v: v["name"])
def test_unsafe_integers_are_refused(vector: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sdk.args_digest(vector["action"], vector["arguments"])


def _headers(case: dict[str, Any]) -> dict[str, str]:
    return {
        "webhook-id": case["id"],
        "webhook-timestamp": case["timestamp"],
        "webhook-signature": case["signature"],
    }


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_webhook_vectors_verify(case: dict[str, Any]) -> None:
    event = sdk.verify_callback(case["secret"], _headers(case), case["body"], now=VECTORS["now"])
    assert event == json.loads(case["body"])


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_webhook_vectors_refuse(case: dict[str, Any]) -> None:
    with pytest.raises(sdk.WebhookVerificationError) as info:
        sdk.verify_callback(case["secret"], _headers(case), case["body"], now=VECTORS["now"])
    assert info.value.reason == "webhook_invalid"


@pytest.mark.parametrize("case", VECTORS["stale"], ids=lambda c: c["name"])
def test_webhook_vectors_out_of_tolerance(case: dict[str, Any]) -> None:
    with pytest.raises(sdk.WebhookVerificationError):
        sdk.verify_callback(case["secret"], _headers(case), case["body"], now=case["now"])
    # Within the tolerance of its own timestamp it verifies.
    sdk.verify_callback(case["secret"], _headers(case), case["body"], now=VECTORS["now"])


def test_a_delivery_the_server_signs_verifies_and_an_altered_one_does_not() -> None:
    secret = signing.new_secret()
    body = json.dumps({"type": "gantral.request.resolved", "data": {"status": "APPROVED"}})
    headers = signing.sign(secret, "inst.req", datetime.now(UTC), body)
    assert sdk.verify_callback(secret, headers, body.encode()) == json.loads(body)
    upper = {k.title(): v for k, v in headers.items()}  # header names in any case
    assert sdk.verify_callback(secret, upper, body) == json.loads(body)
    for forged in (body.replace("APPROVED", "REJECTED"), body + " "):
        with pytest.raises(sdk.WebhookVerificationError):
            sdk.verify_callback(secret, headers, forged)
    with pytest.raises(sdk.WebhookVerificationError):
        sdk.verify_callback(signing.new_secret(), headers, body)
    stale = signing.sign(secret, "inst.req", datetime(2020, 1, 1, tzinfo=UTC), body)
    with pytest.raises(sdk.WebhookVerificationError):
        sdk.verify_callback(secret, stale, body)

"""The Python SDK's batch decision: what it sends (each request as shown), and each refused
item raised as the typed error it would have been alone."""

from __future__ import annotations

import json
from typing import Any

import gantral_sdk as sdk
import httpx

DIGEST = "sha256:" + "a" * 64


def test_decide_batch_sends_each_request_as_shown_and_types_each_refusal() -> None:
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        assert request.url.path == "/v1/decisions:batch"
        refused = {"error": "conflict", "reason": "stale", "message": "changed"}
        body = {
            "decided": 0,
            "refused": 2,
            "items": [
                {"instance_id": "i1", "request_id": "r1", "status": 409, "error": refused},
                {
                    "instance_id": "i2", "request_id": "r2", "status": 403,
                    "error": {"error": "forbidden", "reason": "separation_of_duties",
                              "message": "own request"},
                },
            ],
        }  # fmt: skip
        return httpx.Response(207, json=body)

    # Only what the batch reads of a request shown: its id and digest.
    shown = sdk.HumanRequest.model_construct(request_id="r2", args_digest=DIGEST)
    http = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://g")
    with sdk.GantralClient(http=http) as client:
        result = client.decide_batch(
            [
                sdk.BatchDecisionItem(instance_id="i1", request_id="r1", seen_args_digest="d1"),
                ("i2", shown),
            ],
            "APPROVE",
            idempotency_key="k",
        )
    assert sent[0]["items"] == [
        {"instance_id": "i1", "request_id": "r1", "seen_args_digest": "d1"},
        {"instance_id": "i2", "request_id": "r2", "seen_args_digest": DIGEST},
    ]
    assert sent[0]["decision_type"] == "APPROVE" and sent[0]["idempotency_key"] == "k"
    assert result.refused == 2  # a 207 is answered, never raised: the others were decided
    stale, own = sdk.batch_refusals(result)
    assert isinstance(stale, sdk.Conflict) and stale.reason == "stale"
    assert stale.details == {"instance_id": "i1", "request_id": "r1"}
    assert isinstance(own, sdk.Forbidden) and own.reason == "separation_of_duties"

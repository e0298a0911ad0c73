"""Reading YAML or JSON documents from a request body, with errors that name field and line."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from gantral.errors import InvalidInput, Reason

MAX_DOCUMENT_BYTES = 1_000_000

# The body is YAML (JSON is a subset of it), so the OpenAPI document says so explicitly.
DOCUMENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


async def read_document(request: Request) -> bytes:
    body = await request.body()
    if not body.strip():
        raise InvalidInput("the request body is empty", reason=Reason.EMPTY_BODY)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(
            f"the document is larger than {MAX_DOCUMENT_BYTES} bytes", reason=Reason.TOO_LARGE
        )
    return body

"""Times in query parameters: RFC 3339 date-times with seconds and an offset, as the
OpenAPI document says, and nothing else."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, WithJsonSchema

__all__ = ["Rfc3339Time"]

# RFC 3339 `date-time` with seconds and an offset, and nothing else: pydantic alone would
# also take a number (`0.5`, seconds since 1970) or a time without seconds, which the
# contract does not allow. A leap second (`:60`) has no `datetime`; the pattern says so.
_RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, str) or re.fullmatch(_RFC3339, value) is None:
        raise ValueError("not an RFC 3339 date-time with seconds and an offset")
    return value


Rfc3339Time = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": _RFC3339}),
]

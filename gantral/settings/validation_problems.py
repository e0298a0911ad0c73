"""A pydantic `ValidationError` as one line naming each field and its problem, never the
value given: settings carry secrets, and pydantic's own message would show them."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["validation_problems"]


def validation_problems(exc: ValidationError) -> str:
    """`field.path: problem; ...` (`settings` for a problem with no field)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )

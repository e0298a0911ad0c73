"""`--output text|json`: one option, one name, on every command that lists or reports, so a
script reads JSON and a person reads lines from the same command."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["OutputFormat", "OutputOpt"]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


OutputOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        metavar="text|json",
        case_sensitive=False,
        help="text (lines for people) or json (one document for scripts).",
    ),
]

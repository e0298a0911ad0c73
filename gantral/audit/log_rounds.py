"""The sink's periodic rounds over the audit log read only what was appended since.

Exporting sealed chains, archiving their histories and detecting closures each run every
few seconds on every sink replica. Each used to read every chain in the log each round:
work that grew with the log's whole history. A `Backlog` remembers how far the log was
read and what an earlier round found and could not finish, so a round reads the events
appended since (a range of the events' primary key) and retries what is left.

Why a top read before a round is safe: appends hold the log's lock until they commit and
take the next log indexes under it, so they commit in log-index order; a statement that
runs after the top was read sees every event at or below it. The first round of each
process reads the whole log, as every round did before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Backlog", "Found"]

Found = tuple[str, int]
"""A chain a round has to handle, and the log index that made it so (its seal, its start)."""


@dataclass
class Backlog:
    upto: int = -1
    """Every event up to this log index has been read (-1: none yet, read the whole log)."""
    left: dict[str, int] = field(default_factory=dict)
    """Chains found and not finished yet, with their log index."""

    def read(self, found: Iterable[Found], upto: int) -> None:
        """Take what a round's read of the log up to `upto` found."""
        for chain, index in found:
            self.left.setdefault(chain, index)
        self.upto = max(self.upto, upto)

    def pending(self) -> list[str]:
        """The chains left, oldest first."""
        return sorted(self.left, key=self.left.__getitem__)

    def done(self, chain: str) -> None:
        self.left.pop(chain, None)

"""Materiality levels, ordered. Compare with `rank`, never with `<` on the strings."""

from __future__ import annotations

from enum import StrEnum


class Materiality(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        # As strings "CRITICAL" < "HIGH"; the declaration order is the real order.
        return _RANK[self]


_RANK = {m: i for i, m in enumerate(Materiality)}


def highest(levels: list[Materiality]) -> Materiality:
    """The most material of `levels` (LOW when empty)."""
    return max(levels, key=lambda m: m.rank, default=Materiality.LOW)

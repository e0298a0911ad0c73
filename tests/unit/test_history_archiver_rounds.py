"""The history archiver's rounds read only the seals stored since the last round and
retry, from memory, the instances whose workflow was still finishing."""

from __future__ import annotations

from typing import Any

from gantral.audit.history_archive import HISTORY_CHAIN_PREFIX
from gantral.audit.history_archiver import HistoryArchiver


class _Queries:
    def __init__(self) -> None:
        self.top = -1
        self.seals: list[tuple[str, int]] = []
        self.reads: list[tuple[int, int]] = []

    async def log_top(self) -> int:
        return self.top

    async def unarchived_seals(self, prefix: str, after: int, upto: int) -> list[tuple[str, int]]:
        assert prefix == HISTORY_CHAIN_PREFIX
        self.reads.append((after, upto))
        return [(chain, i) for chain, i in self.seals if after < i <= upto]


class _Archiver(HistoryArchiver):
    """Its `archive` answers from a script: True archived, False nothing to archive,
    None still finishing."""

    def __init__(self, queries: _Queries, outcomes: dict[str, list[bool | None]]) -> None:
        sink: Any = type("Sink", (), {"queries": queries})()
        super().__init__(sink, temporal=None)  # type: ignore[arg-type]
        self.outcomes = outcomes
        self.asked: list[str] = []

    async def archive(self, instance_id: str) -> bool | None:
        self.asked.append(instance_id)
        return self.outcomes[instance_id].pop(0)


async def test_a_round_reads_the_seals_since_the_last_and_retries_what_is_finishing() -> None:
    queries = _Queries()
    archiver = _Archiver(
        queries,
        {"inst-a": [True], "inst-b": [None, None, True], "inst-gone": [False], "inst-c": [True]},
    )
    queries.seals = [("inst-a", 2), ("inst-b", 5), ("inst-gone", 6)]
    queries.top = 6
    assert await archiver.archive_pending() == ["inst-a"]
    queries.seals.append(("inst-c", 9))
    # Access-log segments are not instances: never archived.
    queries.seals.append(("gantral-access-log-1", 10))
    queries.top = 10
    assert await archiver.archive_pending() == ["inst-c"]
    assert await archiver.archive_pending() == ["inst-b"]
    assert await archiver.archive_pending() == []
    assert queries.reads == [(-1, 6), (6, 10), (10, 10), (10, 10)]
    # b asked each round until done; a, the gone one and c once each.
    assert archiver.asked == ["inst-a", "inst-b", "inst-gone", "inst-b", "inst-c", "inst-b"]

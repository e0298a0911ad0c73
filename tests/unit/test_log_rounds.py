"""`Backlog`: how far the sink's periodic rounds have read the log, and what is left."""

from __future__ import annotations

from gantral.audit.log_rounds import Backlog


def test_a_backlog_starts_by_reading_the_whole_log() -> None:
    assert Backlog().upto == -1
    assert Backlog().pending() == []


def test_what_a_round_finds_waits_oldest_first_until_done() -> None:
    rounds = Backlog()
    rounds.read([("b", 7), ("a", 3)], upto=9)
    assert rounds.upto == 9
    assert rounds.pending() == ["a", "b"]
    rounds.done("a")
    rounds.read([("c", 12), ("b", 11)], upto=14)  # found again: keeps its first index
    assert rounds.pending() == ["b", "c"]
    rounds.done("b")
    rounds.done("b")  # twice: nothing to do
    assert rounds.pending() == ["c"]


def test_a_round_never_moves_the_read_back() -> None:
    rounds = Backlog()
    rounds.read([], upto=20)
    rounds.read([("late", 15)], upto=18)
    assert rounds.upto == 20
    assert rounds.pending() == ["late"]

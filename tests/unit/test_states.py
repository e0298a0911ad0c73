from pathlib import Path

import pytest

from gantral.domain.state_doc import render_state_machine_markdown
from gantral.domain.states import (
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    State,
    check_transition,
    successors,
)

REPO = Path(__file__).resolve().parents[2]


def test_listed_transitions_are_allowed() -> None:
    for source, target in TRANSITIONS:
        check_transition(source, target)


@pytest.mark.parametrize("source", list(State))
@pytest.mark.parametrize("target", list(State))
def test_every_unlisted_pair_is_refused(source: State, target: State) -> None:
    if (source, target) in TRANSITIONS:
        return
    with pytest.raises(IllegalTransition):
        check_transition(source, target)


def test_terminal_states_have_no_way_out() -> None:
    for state in TERMINAL_STATES:
        assert successors(state) == []


def test_rejection_never_resumes() -> None:
    assert successors(State.REJECTED) == [State.TERMINATED]
    assert successors(State.EXPIRED) == [State.TERMINATED]


def test_every_state_is_reachable_from_created() -> None:
    seen, frontier = {State.CREATED}, [State.CREATED]
    while frontier:
        for nxt in successors(frontier.pop()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(State)


def test_committed_state_machine_doc_matches_table() -> None:
    committed = (REPO / "specs" / "state-machine.md").read_text()
    assert committed == render_state_machine_markdown(), "run `make specs`"

"""The execution state machine: the only place where states and transitions exist.

`specs/state-machine.md` is generated from `TRANSITIONS`; a test fails if they drift.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    WAITING_FOR_HUMAN = "WAITING_FOR_HUMAN"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    OVERRIDDEN = "OVERRIDDEN"
    # A deadline passed with no human decision: taken by the system, never shown as a REJECT.
    EXPIRED = "EXPIRED"
    RESUMED = "RESUMED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


TERMINAL_STATES: frozenset[State] = frozenset({State.COMPLETED, State.TERMINATED})

# (from, to) -> why this edge exists. Anything not listed here is refused.
TRANSITIONS: dict[tuple[State, State], str] = {
    (State.CREATED, State.RUNNING): "instance started",
    (State.RUNNING, State.WAITING_FOR_HUMAN): "policy requires a human decision",
    (State.RUNNING, State.COMPLETED): "agent reported completion",
    (State.RUNNING, State.TERMINATED): "failure or cancel",
    (
        State.WAITING_FOR_HUMAN,
        State.APPROVED,
    ): "approval quorum reached (or policy on_timeout=APPROVE)",
    (State.WAITING_FOR_HUMAN, State.REJECTED): "human rejected (or policy on_timeout=REJECT)",
    (State.WAITING_FOR_HUMAN, State.OVERRIDDEN): "human overrode with changed parameters",
    (State.WAITING_FOR_HUMAN, State.EXPIRED): "every escalation tier timed out (on_timeout=EXPIRE)",
    # Operators must be able to stop an instance that nobody will ever decide on.
    (State.WAITING_FOR_HUMAN, State.TERMINATED): "cancelled while waiting",
    (State.APPROVED, State.RESUMED): "execution resumes with the approved arguments",
    (State.OVERRIDDEN, State.RESUMED): "execution resumes with the overridden arguments",
    (State.RESUMED, State.RUNNING): "agent continues",
    (State.REJECTED, State.TERMINATED): "rejection ends the instance",
    (State.EXPIRED, State.TERMINATED): "expiry ends the instance",
}


class IllegalTransition(Exception):
    """A transition that the table does not allow was attempted."""

    def __init__(self, source: State, target: State) -> None:
        super().__init__(f"transition {source} -> {target} is not allowed")
        self.source = source
        self.target = target


def is_allowed(source: State, target: State) -> bool:
    return (source, target) in TRANSITIONS


def check_transition(source: State, target: State) -> None:
    """Raise `IllegalTransition` unless the table allows `source -> target`."""
    if not is_allowed(source, target):
        raise IllegalTransition(source, target)


def successors(source: State) -> list[State]:
    return [t for (s, t) in TRANSITIONS if s == source]

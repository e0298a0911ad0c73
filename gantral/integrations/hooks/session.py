"""One governed instance per agent session, shared by the session's hook processes.

Each hook call is its own short-lived process, so the session's instance is found, not
remembered: it is started with an idempotency key derived from the harness's session id,
and every process of the session gets the same instance back. A rejection (or a
timed-out, cancelled call) ends that instance, so the key carries a generation: a call
that finds its generation's instance ended moves on to the next one. A small state file
per session remembers the generation and, under an exclusive lock, serializes the
session's governed calls (an instance waits on one decision at a time; a second call
authorized meanwhile would supersede the first's request).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from gantral.domain.states import TERMINAL_STATES

__all__ = ["STATE_DIR_ENV", "Session", "SessionBusy"]

STATE_DIR_ENV = "GANTRAL_HOOK_STATE_DIR"
MAX_GENERATIONS = 1000
_LOCK_POLL = 0.1


class SessionBusy(Exception):
    """Another call of the session held the lock past this call's deadline."""


def state_dir() -> Path:
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "gantral" / "hooks"


class Session:
    """The session `session_id` of `harness`; `key(gen)` is its instance's idempotency key."""

    def __init__(self, harness: str, session_id: str, directory: Path | None = None) -> None:
        self.harness = harness
        self.session_id = session_id
        # Hashed: the id comes from the harness's input and must not shape a path or key.
        self.digest = hashlib.sha256(f"{harness}\0{session_id}".encode()).hexdigest()[:32]
        self.dir = directory or state_dir()
        self.path = self.dir / f"{self.digest}.json"

    def key(self, generation: int) -> str:
        return f"{self.harness}:{self.digest}:{generation}"

    def trigger_context(self, generation: int) -> dict[str, Any]:
        # Identical for every process of the session: a repeated key with another body
        # would be refused (409).
        return {
            "harness": self.harness,
            "session_id": self.session_id[:200],
            "generation": generation,
        }

    @contextlib.contextmanager
    def locked(self, deadline: float) -> Iterator[IO[str]]:
        """Hold the session's lock (waiting until `deadline`, a `time.monotonic()` value)."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path, "a+") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise SessionBusy(
                            "another tool call of this session is still waiting for Gantral"
                        ) from None
                    time.sleep(_LOCK_POLL)
            try:
                yield handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def read(handle: IO[str]) -> dict[str, Any]:
        """The session's state: `generation`, `instance_id`, and `started` (tool use id to
        step id, for each call reported started and not yet finished)."""
        handle.seek(0)
        try:
            state = json.loads(handle.read() or "{}")
        except ValueError:
            state = {}  # unreadable: start over; ended generations are skipped anyway
        if not isinstance(state, dict):
            state = {}
        generation = state.get("generation")
        started = state.get("started")
        return {
            "generation": generation if isinstance(generation, int) and generation >= 0 else 0,
            "instance_id": state.get("instance_id")
            if isinstance(state.get("instance_id"), str)
            else None,
            "started": started if isinstance(started, dict) else {},
        }

    @staticmethod
    def write(handle: IO[str], state: dict[str, Any]) -> None:
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(state))
        handle.flush()

    def instance(self, client: Any, workflow: str, team: str, handle: IO[str]) -> str:
        """The session's live instance: this generation's, or the next one's if it ended.
        Call with the lock held."""
        state = self.read(handle)
        generation = state["generation"]
        for _ in range(MAX_GENERATIONS):
            view = client.start_instance(
                workflow, team, self.trigger_context(generation),
                idempotency_key=self.key(generation),
            )  # fmt: skip
            if view.state not in TERMINAL_STATES:
                if state["instance_id"] != view.instance_id:
                    state["started"] = {}  # those were steps of an ended instance
                state.update(generation=generation, instance_id=view.instance_id)
                self.write(handle, state)
                return str(view.instance_id)
            generation += 1
        raise RuntimeError(f"session has ended {MAX_GENERATIONS} instances; start a new session")

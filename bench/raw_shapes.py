"""The raw shapes the benchmarks compare Gantral against, in a module of their own: the
workflow sandbox re-imports a workflow's module for every new run, and the bench scripts
are large (their source recompiled per raw run would slow the baseline unfairly).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import psycopg

DSN: dict[str, str] = {}


@activity.defn
async def write_row(value: str) -> None:
    async with await psycopg.AsyncConnection.connect(DSN["uri"], autocommit=True) as conn:
        await conn.execute("INSERT INTO bench_rows (value) VALUES (%s)", (value,))


@workflow.defn
class RawDecision:
    """The same shape as a governed instance, by hand: ask, decide (one row), complete."""

    def __init__(self) -> None:
        self._asked = False
        self._decided = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._decided)

    @workflow.update
    async def ask(self, args: str) -> str:
        self._asked = True
        return "PENDING"

    @ask.validator
    def _ask_ok(self, args: str) -> None:
        if self._asked:
            raise ValueError("already asked")

    @workflow.update
    async def decide(self, who: str) -> str:
        await workflow.execute_activity(
            write_row, who, start_to_close_timeout=timedelta(seconds=10)
        )
        self._decided = True
        return "APPROVED"

    @decide.validator
    def _decide_ok(self, who: str) -> None:
        if not self._asked or self._decided:
            raise ValueError("nothing to decide")


@workflow.defn
class Bare:
    def __init__(self) -> None:
        self._go = False

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            write_row, "bare", start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.wait_condition(lambda: self._go)

    @workflow.signal
    def go(self) -> None:
        self._go = True


@workflow.defn
class RawAllowed:
    """An allowed step, by hand: `authorize` awaits one activity inserting one row (the
    durable evidence a grant needs) and returns a grant id; `started` and `completed` are
    answered from memory, checked by validators. Any number of steps, until `finish`."""

    def __init__(self) -> None:
        self._issued = 0
        self._granted: set[str] = set()
        self._running: set[str] = set()
        self._done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._done)

    @workflow.update
    async def authorize(self, step: str) -> str:
        self._issued += 1
        grant = f"{step}-{self._issued}"
        await workflow.execute_activity(
            write_row, grant, start_to_close_timeout=timedelta(seconds=10)
        )
        self._granted.add(grant)
        return grant

    @workflow.update
    async def started(self, grant: str) -> str:
        self._granted.discard(grant)
        self._running.add(grant)
        return "STARTED"

    @started.validator
    def _started_ok(self, grant: str) -> None:
        if grant not in self._granted:
            raise ValueError("no such grant")

    @workflow.update
    async def completed(self, grant: str) -> str:
        self._running.discard(grant)
        return "COMPLETED"

    @completed.validator
    def _completed_ok(self, grant: str) -> None:
        if grant not in self._running:
            raise ValueError("not started")

    @workflow.signal
    def finish(self) -> None:
        self._done = True

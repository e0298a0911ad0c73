"""One mapping of a PostgreSQL outage to a typed 503, for every store that reads or
writes through a pool (the policy registry, the governance stores).

A database that is down, a pool still reconnecting after it came back, tables not created
yet and a login not allowed to read them (a reader that does not migrate, such as the
channel relay, before the API created them, or a misconfigured role) are each a 503
naming the store and its reason, never a 500: the caller retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from psycopg.errors import InsufficientPrivilege, UndefinedTable
from psycopg_pool import PoolTimeout

from gantral.errors import Reason, Unavailable

__all__ = ["database_reachable"]


@contextlib.contextmanager
def database_reachable(what: str, reason: Reason) -> Iterator[None]:
    """Inside the block, an outage of `what`'s database (e.g. "policy registry") raises
    `Unavailable` with `reason`."""
    try:
        yield
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise Unavailable(f"the {what} database is unavailable: {exc}", reason=reason) from exc
    except (UndefinedTable, InsufficientPrivilege) as exc:
        raise Unavailable(f"the {what} tables cannot be read: {exc}", reason=reason) from exc

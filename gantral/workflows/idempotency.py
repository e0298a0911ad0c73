"""Idempotency keys scoped to who sent them and what they sent.

A key is never global: its scope is (operation, actor, key), and for decisions also the
request. The scope remembers a fingerprint of the call; the same key with another body
is refused (409 `idempotency_key_reused`), as payment APIs do. The Temporal Update id is
derived from scope and fingerprint, so Temporal's own deduplication can only ever hand a
caller the outcome of its own identical call.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel

from gantral.domain.actors import Actor
from gantral.domain.digest import sha256_hex
from gantral.errors import GantralError, Reason
from gantral.workflows.messages import StoredOutcome
from gantral.workflows.refusals import conflict

__all__ = ["Outcomes", "fingerprint", "scope_of", "update_id"]

# Not part of what a retry must repeat: who sent it is the scope, the signature is transport.
_UNFINGERPRINTED = {"attestation", "actor", "standing"}


def fingerprint(payload: BaseModel) -> str:
    return sha256_hex(payload.model_dump(mode="json", exclude=_UNFINGERPRINTED))


def scope_of(op: str, actor: Actor, key: str | None, *within: str) -> str | None:
    """The scope of a keyed call; None (no deduplication) when the caller sent no key."""
    return None if key is None else "\x00".join((op, actor.id, *within, key))


def update_id(op: str, scope: str, print_: str) -> str:
    digest = hashlib.sha256((scope + "\x00" + print_).encode()).hexdigest()
    return f"{op}-{digest[:40]}"


class Outcomes:
    """The outcome of every keyed call of one instance, by scope: the rules over the
    instance's own record of them (`InstanceData.outcomes`, changed in place)."""

    def __init__(self, by_scope: dict[str, StoredOutcome] | None = None) -> None:
        self._by_scope: dict[str, StoredOutcome] = {} if by_scope is None else by_scope

    def get(self, scope: str) -> StoredOutcome | None:
        return self._by_scope.get(scope)

    def check(self, scope: str, print_: str) -> StoredOutcome | None:
        """The earlier outcome of this very call, if any; a different call under the same
        key is refused."""
        prior = self._by_scope.get(scope)
        if prior is not None and prior.fingerprint != print_:
            raise conflict(
                Reason.IDEMPOTENCY_KEY_REUSED,
                "this idempotency key was already used by this caller for a different request",
            )
        return prior

    def begin(self, scope: str, print_: str) -> StoredOutcome:
        outcome = StoredOutcome(fingerprint=print_)
        self._by_scope[scope] = outcome
        return outcome

    def succeed(self, scope: str, result: BaseModel) -> None:
        self._by_scope[scope].result = result.model_dump(mode="json")

    def fail(self, scope: str, error: GantralError) -> None:
        self._by_scope[scope].error = (error.code, str(error.reason), error.message)

    @staticmethod
    def settled(outcome: StoredOutcome) -> bool:
        return outcome.result is not None or outcome.error is not None

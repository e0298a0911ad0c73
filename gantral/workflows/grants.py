"""Single-use grants: authority to start one step once, with exactly the approved arguments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gantral.domain.digest import args_digest
from gantral.domain.records import Grant


class GrantBook:
    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}
        self._used: set[str] = set()
        self._active: set[str] = set()
        self._started_steps: set[str] = set()

    def issue(
        self,
        *,
        grant_id: str,
        step_id: str,
        request_id: str | None,
        action: str,
        arguments: dict[str, Any],
        expires_at: datetime,
        holder: str | None,
    ) -> Grant:
        grant = Grant(
            grant_id=grant_id,
            step_id=step_id,
            request_id=request_id,
            args_digest=args_digest(action, arguments),
            arguments=arguments,
            expires_at=expires_at,
            holder=holder,
        )
        self._grants[grant_id] = grant
        return grant

    def use(
        self, step_id: str, grant_id: str | None, digest: str | None, now: datetime, user: str
    ) -> tuple[str, str] | None:
        """Consume the grant for `user`, or say why it cannot be used: (reason, message)."""
        grant = self._grants.get(grant_id or "")
        if grant is None:
            return "no_grant", f"step {step_id} needs a valid grant from an authorization"
        if grant.grant_id not in self._active:
            return "grant_not_active", f"grant {grant_id} is not usable until it is audited"
        if grant.holder is not None and grant.holder != user:
            return "grant_not_yours", f"grant {grant_id} was issued to another principal"
        if grant.step_id != step_id:
            return "grant_step_mismatch", f"grant {grant_id} is for step {grant.step_id}"
        if grant.grant_id in self._used:
            return "grant_reused", f"grant {grant_id} was already used"
        if now >= grant.expires_at:
            return "grant_expired", f"grant {grant_id} expired at {grant.expires_at.isoformat()}"
        if digest != grant.args_digest:
            return "args_digest_mismatch", (
                f"arguments digest {digest} differs from the authorized {grant.args_digest}"
            )
        self._used.add(grant.grant_id)
        self._started_steps.add(step_id)
        return None

    def snapshot(self) -> tuple[list[Grant], list[str], list[str], list[str]]:
        """(grants, used, active, started steps): what a continued run needs."""
        return (
            list(self._grants.values()),
            sorted(self._used),
            sorted(self._active),
            sorted(self._started_steps),
        )

    @classmethod
    def restore(
        cls, grants: list[Grant], used: list[str], active: list[str], started: list[str]
    ) -> GrantBook:
        book = cls()
        book._grants = {g.grant_id: g for g in grants}
        book._used, book._active, book._started_steps = set(used), set(active), set(started)
        return book

    def activate(self, grant_id: str) -> None:
        """Usable from now on: the facts that authorize it are durably audited."""
        self._active.add(grant_id)

    def started(self, step_id: str) -> bool:
        return step_id in self._started_steps

"""Single-use grants: authority to start one step once, with exactly the approved arguments.

`GrantBook` is plain data (part of `InstanceData`, carried whole through continue-as-new):
each grant beside whether it is active (its facts are audited) and used.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gantral.domain.digest import args_digest
from gantral.domain.records import Grant
from gantral.errors import Reason


class HeldGrant(BaseModel):
    """One issued grant and how far it has gone."""

    grant: Grant
    # Usable only once the facts that authorize it are durably audited.
    active: bool = False
    used: bool = False


class GrantBook(BaseModel):
    grants: dict[str, HeldGrant] = Field(default_factory=dict)
    # Steps started with a grant (a governed step completes only after one), in order.
    started_steps: list[str] = Field(default_factory=list)

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
        self.grants[grant_id] = HeldGrant(grant=grant)
        return grant

    def use(
        self, step_id: str, grant_id: str | None, digest: str | None, now: datetime, user: str
    ) -> tuple[Reason, str] | None:
        """Consume the grant for `user`, or say why it cannot be used: (reason, message)."""
        held = self.grants.get(grant_id or "")
        if held is None:
            return Reason.NO_GRANT, f"step {step_id} needs a valid grant from an authorization"
        grant = held.grant
        if not held.active:
            return Reason.GRANT_NOT_ACTIVE, f"grant {grant_id} is not usable until it is audited"
        if grant.holder is not None and grant.holder != user:
            return Reason.GRANT_NOT_YOURS, f"grant {grant_id} was issued to another principal"
        if grant.step_id != step_id:
            return Reason.GRANT_STEP_MISMATCH, f"grant {grant_id} is for step {grant.step_id}"
        if held.used:
            return Reason.GRANT_REUSED, f"grant {grant_id} was already used"
        if now >= grant.expires_at:
            return (
                Reason.GRANT_EXPIRED,
                f"grant {grant_id} expired at {grant.expires_at.isoformat()}",
            )
        if digest != grant.args_digest:
            return Reason.ARGS_DIGEST_MISMATCH, (
                f"arguments digest {digest} differs from the authorized {grant.args_digest}"
            )
        held.used = True
        if step_id not in self.started_steps:
            self.started_steps.append(step_id)
        return None

    def activate(self, grant_id: str) -> None:
        """Usable from now on: the facts that authorize it are durably audited."""
        held = self.grants.get(grant_id)
        if held is not None:
            held.active = True

    def started(self, step_id: str) -> bool:
        return step_id in self.started_steps

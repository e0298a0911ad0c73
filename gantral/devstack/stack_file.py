"""Where a running `gantral dev` stack is, for operator tools run beside it.

`gantral dev` writes DATA_DIR/dev-stack.json (mode 0600; local-only addresses and the
development S3 keys) once its servers are up. `gantral audit verify`, `gantral replay`,
`gantral policy backtest` and `gantral identity mint` read it through `with_local_stack`
and `local_issuer_url`, so they need no flags beside the local stack. Settings the
environment names always win: a stack file never redirects a tool configured for
another deployment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gantral.settings import Settings
from gantral.settings.audit import WitnessSettings

__all__ = ["STACK_FILE", "local_issuer_url", "read_stack_file", "with_local_stack"]

STACK_FILE = "dev-stack.json"


def read_stack_file(data_dir: Path) -> dict[str, Any] | None:
    """The stack file in `data_dir`, or None when there is none (or it is unreadable)."""
    try:
        stack = json.loads((data_dir / STACK_FILE).read_text())
    except (OSError, ValueError):
        return None
    return stack if isinstance(stack, dict) else None


def with_local_stack(settings: Settings, data_dir: Path) -> Settings:
    """`settings`, completed from the local stack in `data_dir` when they name no audit
    database: its database, S3, audit public keys, its witness (when it runs one) and
    (unless set) Temporal address."""
    database = settings.database
    if database.reader_url.get_secret_value() or database.url.get_secret_value():
        return settings
    stack = read_stack_file(data_dir)
    if stack is None:
        return settings
    audit: dict[str, Any] = {
        "public_keys": settings.audit.public_keys or stack["audit_public_keys"]
    }
    # The stack's own witness (`gantral dev --witness`), unless witnesses are configured.
    witnesses = stack.get("audit_witnesses")
    if witnesses and not settings.audit.witnesses:
        audit["witnesses"] = [WitnessSettings.model_validate(w) for w in witnesses]
    update: dict[str, Any] = {
        "database": database.model_validate({"reader_url": stack["database_url"]}),
        "s3": settings.s3.model_validate(stack["s3"]),
        "audit": settings.audit.model_copy(update=audit),
    }
    # Written since the stack file named Temporal; an older file leaves the setting as is.
    temporal = stack.get("temporal_address")
    if isinstance(temporal, str) and "address" not in settings.temporal.model_fields_set:
        update["temporal"] = settings.temporal.model_copy(update={"address": temporal})
    return settings.model_copy(update=update)


def local_issuer_url(issuer_data_dir: Path) -> str | None:
    """The development issuer's URL of the local stack whose issuer keeps its key in
    `issuer_data_dir` (DATA_DIR/dev-issuer), or None when no such stack wrote one."""
    stack = read_stack_file(issuer_data_dir.resolve().parent)
    if stack is None or stack.get("dev_issuer_data_dir") != str(issuer_data_dir.resolve()):
        return None
    url = stack.get("issuer_url")
    return url if isinstance(url, str) else None

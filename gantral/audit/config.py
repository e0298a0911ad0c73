"""Audit settings that `gantral.settings` does not carry, with safe defaults.

Kept here (not in the settings tree) because they name database objects the
migrations create; changing them is a deployment decision, not a runtime knob.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SCHEMA", "AuditConfig"]

DEFAULT_SCHEMA = "gantral_audit"


@dataclass(frozen=True)
class AuditConfig:
    schema: str = DEFAULT_SCHEMA
    # Group roles the migrations create and grant; login roles are made members of them.
    writer_role: str = "gantral_audit_writer"
    reader_role: str = "gantral_audit_reader"
    # Names this log inside signed checkpoints, so a checkpoint cannot be replayed elsewhere.
    origin: str = "gantral-audit"
    # Prefix of every object key, to share one bucket between logs (tests); empty otherwise.
    object_prefix: str = ""

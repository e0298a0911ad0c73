"""Audit settings that `gantral.settings` does not carry, with safe defaults.

Kept here (not in the settings tree) because they name database objects the
migrations create; changing them is a deployment decision, not a runtime knob.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_ORIGIN", "DEFAULT_SCHEMA", "AuditConfig"]

DEFAULT_SCHEMA = "gantral_audit"
# The log's name inside signed checkpoints (`GANTRAL_AUDIT__ORIGIN` configures it).
DEFAULT_ORIGIN = "gantral-audit"


@dataclass(frozen=True)
class AuditConfig:
    schema: str = DEFAULT_SCHEMA
    # Group roles the migrations create and grant; login roles are made members of them.
    writer_role: str = "gantral_audit_writer"
    reader_role: str = "gantral_audit_reader"
    # Names this log inside signed checkpoints, so a checkpoint cannot be replayed elsewhere.
    # The sink takes it from `GANTRAL_AUDIT__ORIGIN` unless a config is passed in (tests).
    origin: str = DEFAULT_ORIGIN
    # Prefix of every object key, to share one bucket between logs (tests); empty otherwise.
    object_prefix: str = ""

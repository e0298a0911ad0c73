"""The audit log's settings (`GANTRAL_AUDIT__*`, `Settings.audit`): signing and trusted
keys, the log's origin, checkpoint and closure intervals, and where the log lives (its
schema, roles and object prefix, which the migrations create).
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

__all__ = [
    "DEFAULT_ORIGIN",
    "DEFAULT_SCHEMA",
    "AuditSettings",
    "WitnessSettings",
    "key_name_problem",
]

DEFAULT_SCHEMA = "gantral_audit"
# The log's name inside signed checkpoints (`GANTRAL_AUDIT__ORIGIN` configures it).
DEFAULT_ORIGIN = "gantral-audit"

_LATIN1_SPACES = frozenset("\t\n\v\f\r \x85\xa0")


def _is_space(ch: str) -> bool:
    # Go's unicode.IsSpace: the Latin-1 spaces plus the White_Space characters above them.
    return ch in _LATIN1_SPACES or (
        ord(ch) > 0xFF and unicodedata.category(ch) in {"Zs", "Zl", "Zp"}
    )


def key_name_problem(name: str) -> str | None:
    """Why `name` cannot be a signed-note key name (None: it can): key names are non-empty
    and hold no Unicode space or '+'. The origin is one (`gantral.audit.note`)."""
    if not name:
        return "a note key name must not be empty"
    if "+" in name or any(_is_space(c) for c in name):
        return f"note key name {name!r} must not contain spaces or '+'"
    if any(ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF for c in name):
        return f"note key name {name!r} must be UTF-8 text without control characters"
    return None


class WitnessSettings(BaseModel):
    """A C2SP tlog-witness the sink submits each new checkpoint to."""

    # Its verifier key, `name+keyhash+base64(0x04 || Ed25519 key)` (what
    # `gantral audit witness key` prints); checked when the sink starts.
    key: str = Field(min_length=1)
    # Its submission prefix: the sink POSTs to `<url>/add-checkpoint`.
    url: str = Field(min_length=1)


class AuditSettings(BaseModel):
    # Ed25519 private key (PEM) used by the sink to sign checkpoints; a file path or the PEM.
    # Required outside development: only `gantral dev` may sign with a throwaway key.
    signing_key: SecretStr = SecretStr("")
    # What verification trusts (the API's verify route, `gantral audit verify`): Ed25519
    # public keys as PEM files, inline PEMs or 64 hex characters; several while rotating.
    # Never a private key: verifying must not need what signs.
    public_keys: list[str] = Field(default_factory=list)
    # The log's name inside every signed checkpoint; verification refuses other origins.
    # Also the C2SP checkpoint note's origin line and key name, so no spaces and no '+';
    # a schema-less URL per deployment (e.g. `audit.example.com/prod`) is recommended.
    origin: str = Field(default=DEFAULT_ORIGIN, min_length=1, max_length=200)
    checkpoint_interval_seconds: float = Field(default=10.0, gt=0)
    # Paths removed before anything is stored, relative to the snapshot a human is shown,
    # e.g. `$.context.prompt`: by the API before Temporal sees it, and again by the sink.
    redact_paths: list[str] = Field(default_factory=list)
    # How often the sink looks for instance executions closed around Gantral (terminated,
    # reset, timed out, history lost) whose chain is unsealed, and records each one.
    closure_check_interval_seconds: float = Field(default=30.0, gt=0)
    # Verification reports an instance chain still unsealed this long after it started
    # (`unsealed_too_old`): no instance should wait for ever.
    max_unsealed_age_days: float = Field(default=30.0, gt=0, le=36_500)
    # Witnesses that cosign each new checkpoint (c2sp.org/tlog-witness), and how many
    # cosignatures a checkpoint needs to be stored as cosigned (0: witnesses optional).
    witnesses: list[WitnessSettings] = Field(default_factory=list)
    witness_quorum: int = Field(default=0, ge=0)
    witness_timeout_seconds: float = Field(default=10.0, gt=0)

    # Where the log lives and who may touch it: database objects the migrations create, so
    # changing one is a deployment decision (the sink, the API, the relay and the callback
    # worker must agree), not a runtime knob. Tests give each run a schema of its own.
    schema_name: str = DEFAULT_SCHEMA
    # Group roles the migrations create and grant; login roles are made members of them.
    writer_role: str = "gantral_audit_writer"
    reader_role: str = "gantral_audit_reader"
    # Prefix of every object key, to share one bucket between logs (tests); empty otherwise.
    object_prefix: str = ""

    @model_validator(mode="after")
    def _quorum_is_reachable(self) -> AuditSettings:
        if self.witness_quorum > len(self.witnesses):
            raise ValueError(
                f"witness_quorum {self.witness_quorum} exceeds the {len(self.witnesses)}"
                " witness(es) configured"
            )
        return self

    @field_validator("origin")
    @classmethod
    def _origin_is_note_key_name(cls, value: str) -> str:
        # Checked at start, not at the first checkpoint: a sink must not run for a while
        # and then fail to sign its notes.
        problem = key_name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

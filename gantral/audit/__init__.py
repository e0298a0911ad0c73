"""The audit sink: a tamper-evident, hash-chained, independently verifiable record.

Data flows one way: the `gantral.audit.append` activity (`gantral.activities.audit_sink`)
→ `sink.AuditSink` (redact + store snapshots, encode) → `store.AuditWriter` (chain, one
PostgreSQL transaction) → `checkpointer.Checkpointer` (RFC 9162 log, signed checkpoints)
→ `bundle` (evidence export on seal). Reads go through `reader.AuditReader` (API) and
`verifier.verify_database` / `bundle_verify.verify_bundle` (CLI).

Pure modules, no I/O: `encoding`, `merkle`, `checkpoint`, `redaction`, `verify`,
`bundle`, `bundle_verify`. The format is specified in `specs/audit.md`.

Errors raised (from `gantral.errors`), translated to Temporal at the activity edge:

    Conflict      a different event at a stored seq, or an append after the seal (final)
    InvalidInput  a malformed batch (final)
    Unavailable
    └── SequenceGap  events arrived beyond the head (retried)
"""

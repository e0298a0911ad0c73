"""The one error tree, and the catalogue of the reasons it answers. Translated only at the
edges: HTTP status in `gantral/api/errors.py`, `ApplicationError(type=...)` across Temporal.

    GantralError
    ├── InvalidInput        bad input: a field, a file, a YAML line      (422)
    ├── NotFound            unknown instance, request, workflow, policy  (404)
    ├── Conflict            wrong state, already decided, stale, reused  (409)
    ├── Unauthenticated     no or invalid credentials                    (401)
    ├── Forbidden           authenticated but not allowed                (403)
    └── Unavailable         a dependency is down; retry later            (503)

Every error carries a `Reason`: the precise, stable cause clients branch on. The catalogue
is published as `specs/reasons.json` and as the SDKs' reason types.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "BY_CODE",
    "Conflict",
    "Forbidden",
    "GantralError",
    "InvalidInput",
    "NotFound",
    "Reason",
    "Unauthenticated",
    "Unavailable",
]


class Reason(StrEnum):
    """Every `reason` the server can answer: its wire value and what it means.

    Wire values are a contract (SDKs and scripts branch on them): add members freely,
    never rename or remove one."""

    description: str

    def __new__(cls, value: str, description: str = "") -> Reason:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    @classmethod
    def of(cls, value: object) -> Reason | None:
        """The member whose wire value is `value`, or None: a reason carried across Temporal
        is read back through here, and one from outside the catalogue is not trusted."""
        return cls._value2member_map_.get(value) if isinstance(value, str) else None  # type: ignore[return-value]

    # The class codes: the reason of an error raised without a more precise one.
    ERROR = "error", "an error with no more precise cause"
    INVALID_INPUT = "invalid_input", "the input is invalid"
    NOT_FOUND = "not_found", "the resource does not exist"
    CONFLICT = "conflict", "not allowed in the resource's current state"
    UNAUTHENTICATED = "unauthenticated", "no valid credentials"
    FORBIDDEN = "forbidden", "authenticated but not allowed"
    UNAVAILABLE = "unavailable", "a dependency is unavailable; retry later"

    # The HTTP edge: bodies, framework errors.
    BODY_TOO_LARGE = "body_too_large", "the request body is larger than the configured limit"
    VALIDATION_FAILED = (
        "validation_failed",
        "the request failed validation; details name each field",
    )
    MALFORMED_JSON = "malformed_json", "the body is not valid JSON"
    NOT_I_JSON = "not_i_json", "a value is outside I-JSON (RFC 7493): range, NaN, surrogate, key"
    TOO_DEEP = "too_deep", "the JSON nests deeper than the limit"
    FIELD_TOO_LARGE = "field_too_large", "a field's JSON is larger than the per-field limit"
    EMPTY_BODY = "empty_body", "the request body is empty"
    TOO_LARGE = "too_large", "the uploaded document is larger than the limit"
    NO_ROUTE = "no_route", "no route serves this path"
    METHOD_NOT_ALLOWED = "method_not_allowed", "the path does not serve this method"
    INTERNAL = "internal", "an unexpected server error (logged by the server)"
    NO_CORE = "no_core", "the API runs without a core client configured"

    # Tokens and identity.
    MISSING_TOKEN = "missing_token", "no bearer token, or not 'Bearer <token>'"
    UNSIGNED = "unsigned", "an unsigned token or webhook call"
    MALFORMED = "malformed", "the token is not a well-formed JWT"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed", "the token's algorithm is not accepted"
    ALGORITHM_MISMATCH = "algorithm_mismatch", "the token's algorithm does not fit its key"
    EXPIRED = "expired", "the token, or the request waited on, has expired"
    NOT_YET_VALID = "not_yet_valid", "the token is not valid yet (nbf/iat)"
    WRONG_AUDIENCE = "wrong_audience", "the token is not meant for this audience"
    WRONG_ISSUER = "wrong_issuer", "the token comes from an untrusted issuer"
    BAD_SIGNATURE = "bad_signature", "a token or webhook signature does not verify"
    MISSING_CLAIM = "missing_claim", "the token lacks a required claim"
    INVALID = "invalid", "the token is invalid"
    MISSING_KID = "missing_kid", "the token names no key and the issuer publishes several"
    UNKNOWN_KEY = "unknown_key", "the token is signed with a key the issuer does not publish"
    JWKS_UNREACHABLE = "jwks_unreachable", "the issuer's keys cannot be fetched"
    DISCOVERY_MISMATCH = (
        "discovery_mismatch",
        "the issuer's discovery document names another issuer",
    )
    MISSING_SUBJECT = "missing_subject", "the token has no usable subject claim"
    INVALID_OWNER = "invalid_owner", "the token's owner claim is not a usable id"
    DEV_ISSUER_IN_PRODUCTION = (
        "dev_issuer_in_production",
        "the development issuer is refused in production",
    )
    DEV_ISSUER_DISABLED = "dev_issuer_disabled", "the development issuer is disabled"
    INVALID_CLIENTS = "invalid_clients", "the development clients file is invalid"
    NOT_A_GATEWAY = "not_a_gateway", "only a configured gateway may act on behalf of others"
    DELEGATION_DISABLED = "delegation_disabled", "delegation is not configured"
    NOT_THIS_GATEWAY = "not_this_gateway", "the gateway may not act for this principal"

    # Secrets.
    SECRET_FILE_NOT_FOUND = "secret_file_not_found", "a file: secret cannot be read"
    SECRET_ENV_NOT_SET = "secret_env_not_set", "an env: secret's variable is not set"
    INVALID_SECRET_REFERENCE = "invalid_secret_reference", "a secret reference is malformed"
    VAULT_NOT_CONFIGURED = (
        "vault_not_configured",
        "a vault: secret is named but Vault is not configured",
    )
    SECRET_NOT_FOUND = "secret_not_found", "Vault holds no such secret or key"
    VAULT_UNREACHABLE = "vault_unreachable", "Vault cannot be reached or answers unexpectedly"
    VAULT_DENIED = "vault_denied", "Vault refused to read the secret"

    # Permissions.
    AGENT_CANNOT_DECIDE = "agent_cannot_decide", "agents may not decide human requests"
    PERMISSION_NOT_GRANTED = "permission_not_granted", "the permission table grants no such action"
    TEAM_NOT_GRANTED = "team_not_granted", "the principal is not in the resource's team"
    INVALID_PERMISSIONS = "invalid_permissions", "the permission table is invalid or unreadable"

    # Instances, requests and decisions.
    UNKNOWN_INSTANCE = "unknown_instance", "no instance with this id (or not visible to the caller)"
    UNKNOWN_REQUEST = "unknown_request", "no human request with this id on the instance"
    UNKNOWN_STEP = "unknown_step", "the workflow has no step with this id"
    NO_TEAMS = "no_teams", "a listing must name at least one team"
    BAD_PAGE_TOKEN = "bad_page_token", "the page token is invalid or from another query"
    INVALID_QUERY = "invalid_query", "Temporal refused the listing query"
    IDEMPOTENCY_KEY_REUSED = (
        "idempotency_key_reused",
        "the idempotency key was used for a different request",
    )
    CALLBACK_URL_NOT_ALLOWED = (
        "callback_url_not_allowed",
        "the callback URL is outside the allowed prefixes",
    )
    ARGS_DIGEST_REQUIRED = (
        "args_digest_required",
        "the decision must name the arguments' digest it saw",
    )
    PAYLOAD_TOO_LARGE = "payload_too_large", "too large for the instance to hold"
    TERMINAL = "terminal", "the instance is closed"
    NOT_RUNNING = "not_running", "the instance is not running"
    NOT_WAITING = "not_waiting", "the instance is not waiting for a human"
    ILLEGAL_TRANSITION = "illegal_transition", "the state machine allows no such transition"
    CONTINUING_AS_NEW = "continuing_as_new", "the instance is moving to its next run; retry"
    SUPERSEDED = "superseded", "the request was superseded by a newer request"
    ALREADY_DECIDED = "already_decided", "the request is already decided"
    ALREADY_APPROVED = "already_approved", "this human already approved; each human counts once"
    NOT_HUMAN = "not_human", "only a human can decide"
    NO_ROLE = "no_role", "the actor holds no role to decide in"
    ROLE_NOT_HELD = "role_not_held", "the actor does not hold the role named"
    ROLE_NOT_ALLOWED = "role_not_allowed", "the role may not decide this request this way"
    SEPARATION_OF_DUTIES = "separation_of_duties", "the decider may not be the one who asked"
    SELF_APPROVAL_NOT_ALLOWED = (
        "self_approval_not_allowed",
        "only the caller decides in their own client, where the policy allows self-approval",
    )
    STALE = "stale", "the request changed since it was seen"
    BATCH_TOO_LARGE = "batch_too_large", "a batch decides more requests than the limit allows"
    DUPLICATE_IN_BATCH = "duplicate_in_batch", "a batch names the same request more than once"
    CONTEXT_DELTA_REQUIRED = "context_delta_required", "an OVERRIDE needs a non-empty context_delta"
    JUSTIFICATION_REQUIRED = "justification_required", "this decision requires a justification"
    ARGUMENTS_NOT_SHOWN = (
        "arguments_not_shown",
        "the channel cannot show the arguments to decide on",
    )
    STEP_ID_REQUIRED = "step_id_required", "the agent event needs a step_id"
    COST_REQUIRED = "cost_required", "a COST event needs a cost"
    INVALID_COST = "invalid_cost", "a cost figure is not a finite number"
    NEGATIVE_COST = "negative_cost", "a cost figure is negative"
    INVALID_CURRENCY = "invalid_currency", "the currency is not an ISO 4217 code"
    CURRENCY_MISMATCH = "currency_mismatch", "the cost's currency differs from the instance's"
    COST_TOO_LARGE = "cost_too_large", "the instance's cost total would pass its bound"
    NOT_AUTHORIZED = "not_authorized", "a governed step completes without an authorized start"
    NO_GRANT = "no_grant", "the governed step needs a valid grant from an authorization"
    GRANT_NOT_ACTIVE = "grant_not_active", "the grant is not usable until it is audited"
    GRANT_NOT_YOURS = "grant_not_yours", "the grant was issued to another principal"
    GRANT_STEP_MISMATCH = "grant_step_mismatch", "the grant is for another step"
    GRANT_REUSED = "grant_reused", "the grant was already used"
    GRANT_EXPIRED = "grant_expired", "the grant has expired"
    PENDING_FOR_OTHER_PRINCIPAL = (
        "pending_for_other_principal",
        "the pending step was asked by another principal",
    )
    TOO_MANY_REQUESTS = "too_many_requests", "the instance holds too many open requests"
    UNATTESTED = "unattested", "the call carries no valid attestation"
    NOT_A_HUMAN = "not_a_human", "administrator actions are taken by humans"
    NOT_CANONICAL_JSON = "not_canonical_json", "the detail is not I-JSON"
    PAYLOAD_SCHEMA = "payload_schema", "an audit payload does not match its event's schema"

    # Readiness (capacity): a blocked verdict's reason, and why the gate cannot answer.
    READY = "ready", "readiness: the step may run now (a verdict, never an error)"
    BUDGET = "budget", "readiness: a token or money budget is spent"
    CONCURRENCY = "concurrency", "readiness: too many steps running in the scope"
    RATE_LIMIT = "rate_limit", "readiness: too many steps in the last minute"
    FAIRNESS = "fairness", "readiness: the team holds more than its fair share"
    COUNTERS_UNAVAILABLE = "counters_unavailable", "readiness: the capacity counters cannot be read"
    READINESS_NEEDS_DATABASE = "readiness_needs_database", "capacity rules need the audit database"

    # Temporal.
    QUERY_FAILED = "query_failed", "the instance query failed"
    TEMPORAL_TIMEOUT = "temporal_timeout", "Temporal did not answer in time"
    TEMPORAL_UNAVAILABLE = "temporal_unavailable", "Temporal is unavailable"
    WORKFLOW_ERROR = "workflow_error", "the workflow refused the request without a known reason"
    INVALID_CODEC = "invalid_codec", "the payload codec configuration is invalid"
    INVALID_CODEC_KEY = "invalid_codec_key", "a payload codec key is invalid"
    CODEC_KEY_UNKNOWN = "codec_key_unknown", "a payload names a codec key that is not configured"
    CODEC_PAYLOAD_INVALID = "codec_payload_invalid", "an encoded payload does not decrypt"
    CODEC_NEEDS_ALL_TEAMS = "codec_needs_all_teams", "the codec endpoint needs access to every team"
    CODEC_NOT_ENABLED = "codec_not_enabled", "the payload codec is not enabled"
    CODEC_NOT_CONFIGURED = (
        "codec_not_configured",
        "the history is encoded but no codec is configured",
    )

    # Policies, workflows and other documents.
    UNKNOWN_POLICY = "unknown_policy", "no policy with this id"
    UNKNOWN_WORKFLOW = "unknown_workflow", "no workflow with this id"
    REGISTRY_UNAVAILABLE = (
        "registry_unavailable",
        "the policy registry's database is unavailable; retry",
    )
    UNKNOWN_VERSION = "unknown_version", "the document has no such version"
    INVALID_ID = "invalid_id", "the document id is not well-formed"
    ID_MISMATCH = "id_mismatch", "the document's id differs from the path's"
    VERSION_CONFLICT = "version_conflict", "the version already holds a different document"
    VERSION_SUPERSEDED = "version_superseded", "a newer version is already active"
    POLICY_HASH_MISMATCH = (
        "policy_hash_mismatch",
        "the policy's content differs from its recorded hash",
    )
    CONTENDED = "contended", "too many concurrent writers; retry"
    INVALID_DOCUMENT = "invalid_document", "the document is not valid YAML or breaks its schema"
    INCONSISTENT_STEPS = "inconsistent_steps", "the workflow's steps do not form a valid graph"
    INCONSISTENT_TIMING = (
        "inconsistent_timing",
        "durations contradict each other (a reminder not before its deadline, a tier"
        " with no timeout before another)",
    )
    FIELD_NOT_A_FACT = "field_not_a_fact", "the policy names a field that is not a fact"
    UNREADABLE_FILE = "unreadable_file", "a configured file cannot be read"

    # Audit.
    AUDIT_UNAVAILABLE = "audit_unavailable", "the audit log is unavailable"
    AUDIT_DB_UNAVAILABLE = "audit_db_unavailable", "the audit database is unavailable; retry"
    AUDIT_KEYS_INVALID = "audit_keys_invalid", "the audit signing keys are invalid"
    AUDIT_SEALED = "audit_sealed", "the instance's audit log is sealed"
    AUDIT_SEQ_CONFLICT = "audit_seq_conflict", "another event holds this sequence number"
    AUDIT_SEQ_GAP = "audit_seq_gap", "the event's sequence number leaves a gap"
    FOREIGN_WORKFLOW = "foreign_workflow", "the event comes from a workflow the sink does not admit"
    NOT_YET_CHECKPOINTED = "not_yet_checkpointed", "no checkpoint covers the event yet"
    UNKNOWN_TREE_SIZE = "unknown_tree_size", "no checkpoint has this tree size"
    NO_CHECKPOINT_NOTE = "no_checkpoint_note", "no signed checkpoint note exists yet"
    NO_CONSISTENCY_PROOF = "no_consistency_proof", "no consistency proof between these sizes"
    HISTORY_ARCHIVE_MISSING = "history_archive_missing", "the archived history is missing"
    HISTORY_ARCHIVE_TAMPERED = (
        "history_archive_tampered",
        "the archived history does not match its digest",
    )
    HISTORY_NOT_ARCHIVED = "history_not_archived", "the instance's history is not archived"
    HISTORY_NOT_FOUND = "history_not_found", "Temporal holds no history for the instance"
    HISTORY_INCOMPLETE = "history_incomplete", "the history is incomplete"
    BACKTEST_TOO_LARGE = "backtest_too_large", "the backtest covers more than the limit"
    EVIDENCE_TOO_LARGE = (
        "evidence_too_large",
        "the evidence pack covers more instances than allowed",
    )
    NO_EVIDENCE = "no_evidence", "no instance the caller may audit started in that window"

    # Channels and triggers.
    BAD_PAYLOAD = "bad_payload", "the channel's payload is not what it should be"
    STALE_SIGNATURE = "stale_signature", "the signed timestamp is too old"
    STALE_DELIVERY = "stale_delivery", "the delivery is too old or from the future"
    CHANNEL_NOT_CONFIGURED = (
        "channel_not_configured",
        "the channel or webhook source is not configured",
    )
    UNKNOWN_USER = "unknown_user", "the channel user is not mapped to a Gantral approver"
    UNKNOWN_ISSUE = "unknown_issue", "the Jira issue is not a Gantral request's"
    RELAY_UNAVAILABLE = "relay_unavailable", "the Jira relay is not running"
    JIRA_UNAVAILABLE = "jira_unavailable", "Jira could not be updated"

    # Tool integrations (LangGraph, MCP): why a governed tool call did not run.
    NOT_GOVERNED = "not_governed", "the tool is not governed by this configuration"
    NOT_YOUR_TEAM = "not_your_team", "calls run for a team the caller is not in"
    PENDING = "pending", "the call waits for a human decision"
    DECISION_TIMEOUT = "decision_timeout", "no decision came in the wait allowed"
    ARGS_DIGEST_MISMATCH = (
        "args_digest_mismatch",
        "the arguments differ from those authorized or decided on",
    )
    REJECTED = "rejected", "the request was rejected"
    CANCELLED = "cancelled", "the request was cancelled"

    # Halts (the fleet's kill switch).
    HALTED = "halted", "a halt holds over the team, agent, workflow or deployment"
    ALREADY_LIFTED = "already_lifted", "the halt has already been lifted"
    UNKNOWN_HALT = "unknown_halt", "no halt has that id"
    HALTS_UNAVAILABLE = "halts_unavailable", "the halts cannot be read: calls are refused"
    SCOPE_NOT_GRANTED = "scope_not_granted", "the caller's permission does not cover the scope"
    LIFTER_IS_RAISER = "lifter_is_raiser", "this halt must be lifted by someone else"
    LIFT_ALREADY_APPROVED = (
        "lift_already_approved",
        "this human already approved the lift: each human counts once in its quorum",
    )
    LIFT_ROLE_REQUIRED = (
        "lift_role_required",
        "the caller holds no role the deployment's lift quorum still counts",
    )
    RAISE_ROLE_REQUIRED = (
        "raise_role_required",
        "the deployment lets only some roles raise halts, and the caller holds none",
    )
    EXEMPTION_NOT_NARROWER = (
        "exemption_not_narrower",
        "an exemption must be a narrower part of the halt: otherwise lift the halt",
    )
    ALREADY_EXEMPTED = "already_exempted", "that scope is already exempted from the halt"
    EXEMPTION_ALREADY_APPROVED = (
        "exemption_already_approved",
        "this human already approved exempting that part: each human counts once in its quorum",
    )

    # Break-glass (a quorum lets a scope pass a policy's human requirement for a while).
    BREAK_GLASS_DISABLED = "break_glass_disabled", "this deployment configures no break-glass"
    BREAK_GLASS_ROLE_REQUIRED = (
        "break_glass_role_required",
        "the caller holds no role the deployment's break-glass quorum counts",
    )
    BREAK_GLASS_ALREADY_APPROVED = (
        "break_glass_already_approved",
        "this human already approved the break-glass: each human counts once in its quorum",
    )
    BREAK_GLASS_TTL_TOO_LONG = (
        "break_glass_ttl_too_long",
        "the break-glass asks for longer than the deployment's maximum",
    )
    BREAK_GLASS_NOT_PENDING = (
        "break_glass_not_pending",
        "the break-glass is already in effect or has ended: a new one needs a new quorum",
    )
    UNKNOWN_BREAK_GLASS = "unknown_break_glass", "no break-glass has that id"

    # Standing grants (approvals that only narrow).
    STANDING_NOT_ALLOWED = "standing_not_allowed", "the step's policy allows no standing grant"
    STANDING_ROLE_NOT_ALLOWED = (
        "standing_role_not_allowed",
        "the approver's role may not give standing grants on this step",
    )
    STANDING_NEEDS_SOLE_APPROVER = (
        "standing_needs_sole_approver",
        "the request needs more approvers than the one giving the standing grant",
    )
    STANDING_EXCEEDS_POLICY = (
        "standing_exceeds_policy",
        "the standing grant's TTL or uses exceed the policy's bounds",
    )
    STANDING_PATTERN_WIDENS = (
        "standing_pattern_widens",
        "the standing grant's pattern would allow more than the approved request",
    )
    UNKNOWN_STANDING_GRANT = "unknown_standing_grant", "no standing grant has that id"
    ALREADY_REVOKED = "already_revoked", "the standing grant is already revoked"
    NOT_GRANT_APPROVER = (
        "not_grant_approver",
        "only the standing grant's approver or a supervisor may revoke it",
    )
    STANDING_UNAVAILABLE = (
        "standing_unavailable",
        "the standing grants cannot be read or stored",
    )

    # Deputies (delegated decision roles).
    DELEGATE_TO_SELF = "delegate_to_self", "a human cannot be their own deputy"
    DELEGATION_CHAIN = (
        "delegation_chain",
        "roles delegated to a deputy cannot be delegated again (one hop only)",
    )
    DEPUTY_AWAY = "deputy_away", "the deputy has delegated their own roles for now"
    DELEGATION_WINDOW = "delegation_window", "the delegation's window is empty, past or inverted"
    DELEGATION_TOO_LONG = "delegation_too_long", "the delegation's window is longer than allowed"
    NO_DELEGATION = "no_delegation", "no delegation from that human to the caller exists"
    DELEGATION_NOT_IN_EFFECT = (
        "delegation_not_in_effect",
        "the delegation's window does not hold now, or it has ended",
    )
    ALREADY_COUNTED = (
        "already_counted",
        "the deputy or the human they stand in for already counted in this quorum",
    )
    DELEGATIONS_UNAVAILABLE = "delegations_unavailable", "the delegations cannot be read"
    INVALID_ROLE_DIRECTORY = (
        "invalid_role_directory",
        "the role directory (team -> role -> human ids) is unreadable or malformed",
    )

    # Shadow policies.
    INVALID_WINDOW = "invalid_window", "the report's window is empty or inverted"
    WINDOW_TOO_LARGE = "window_too_large", "the report's window is longer than allowed"
    SHADOW_REPORT_TOO_LARGE = (
        "shadow_report_too_large",
        "the window holds more shadow evaluations than one report reads",
    )


class GantralError(Exception):
    code: str = "error"

    def __init__(self, message: str, *, reason: Reason | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or Reason(self.code)
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "reason": self.reason, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(GantralError):
    code = "invalid_input"


class NotFound(GantralError):
    code = "not_found"


class Conflict(GantralError):
    code = "conflict"


class Unauthenticated(GantralError):
    code = "unauthenticated"


class Forbidden(GantralError):
    code = "forbidden"


class Unavailable(GantralError):
    code = "unavailable"


BY_CODE: dict[str, type[GantralError]] = {
    cls.code: cls
    for cls in (InvalidInput, NotFound, Conflict, Unauthenticated, Forbidden, Unavailable)
}

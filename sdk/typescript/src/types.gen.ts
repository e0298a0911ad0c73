// Generated from specs/openapi.json by scripts/gen-types.mjs. Do not edit:
// run `npm run generate`; the tests fail when this file and the spec drift apart.
/* eslint-disable */

export interface ActivationChange {
  /** Why; audited */
  "justification": string;
  /** true: instances may still start from this version after it is superseded; false: undo that (only the latest version can then be started) */
  "keep_active": boolean;
}

export interface Actor {
  "id": string;
  "kind": ActorKind;
  "owner"?: string | null;
  "roles"?: Array<string>;
}

export type ActorKind = "human" | "agent" | "system";
export const ActorKindValues = ["human","agent","system"] as const;

/** Who is involved: the people separation of duties excludes, and approvals to try. */
export interface Actors {
  "agent_owner"?: string | null;
  "approvals"?: Record<string, string>;
  "requester"?: string | null;
  "trigger_actor"?: string | null;
}

export type AgentEventKind = "STEP_STARTED" | "STEP_COMPLETED" | "STEP_FAILED" | "COST";
export const AgentEventKindValues = ["STEP_STARTED","STEP_COMPLETED","STEP_FAILED","COST"] as const;

export interface AgentEventResult {
  "accepted": boolean;
  "cost": Cost;
  "state": State;
}

export interface AllOf {
  "all_of": Array<RoleRule | AnyOf | AllOf | NOfRule>;
}

export interface AllOfInput {
  "all_of": Array<RoleRuleInput | AnyOfInput | AllOfInput | NOfRuleInput>;
}

export interface AnyOf {
  "any_of": Array<RoleRule | AnyOf | AllOf | NOfRule>;
}

export interface AnyOfInput {
  "any_of": Array<RoleRuleInput | AnyOfInput | AllOfInput | NOfRuleInput>;
}

/** One argument's constraint: exactly one of `equals`, `range`(`min`/`max`), `prefix`,
`one_of`. */
export interface ArgumentPattern {
  "equals"?: boolean | string | number | Array<JsonValue> | Record<string, unknown> | null;
  "max"?: number | null;
  "min"?: number | null;
  "one_of"?: Array<boolean | string | number | Array<JsonValue> | Record<string, unknown>> | null;
  "prefix"?: string | null;
}

/** The API's signature over one call: which key signed, and the signature (hex). */
export interface Attestation {
  "key_id": string;
  "signature": string;
}

export interface AuditAnchor {
  "checkpoint": Checkpoint | null;
  "events": number;
  "head": string | null;
  "sealed": boolean;
}

export interface AuditTrailView {
  "bundle_keys": Array<string>;
  "events": Array<EventView>;
  "head": string | null;
  "instance_id": string;
  /** The API path listing the refused attempts on this instance (`GET /v1/audit/refusals?instance_id=...`) */
  "refusals"?: string | null;
  "sealed": boolean;
}

export type AuthorizeOutcome = "ALLOW" | "PENDING" | "NOT_READY";
export const AuthorizeOutcomeValues = ["ALLOW","PENDING","NOT_READY"] as const;

export interface AuthorizeRequest {
  "action"?: string;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "arguments"?: Record<string, unknown>;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "context"?: Record<string, unknown>;
  "idempotency_key"?: string | null;
}

export interface AuthorizeResult {
  "args_digest": string;
  "break_glass_id"?: string | null;
  "explanation": Array<string>;
  "grant"?: Grant | null;
  "materiality": Materiality | null;
  "outcome": AuthorizeOutcome;
  "reason"?: string | null;
  "request"?: HumanRequest | null;
  "retry_after"?: number | null;
  "standing_id"?: string | null;
  "step_id": string;
}

export interface BacktestReport {
  "candidate_hash": string;
  "changed": number;
  "counts"?: Record<string, number>;
  "decision_points": number;
  "evaluated": number;
  "examples"?: Array<Change>;
  "instances": number;
  "other_policies"?: number;
  "policy_id": string;
  "since": string | null;
  "unchanged": number;
  "unrecoverable": number;
  "workflow_id": string | null;
}

/** Which recorded decisions to replay the candidate on, and the candidate itself. */
export interface BacktestRequest {
  /** An unpublished candidate policy document, tried instead */
  "policy"?: PolicyInput | null;
  /** Instances started this long ago at most (null: all) */
  "since"?: string | null;
  /** Only this step */
  "step_id"?: string | null;
  /** The stored version to try (default: the latest) */
  "version"?: number | null;
  /** Instances of this workflow */
  "workflow_id": string;
}

/** One request of a batch, named as the human was shown it. */
export interface BatchDecisionItem {
  "instance_id": string;
  "request_id": string;
  /** The `args_digest` of this request as shown to the human; a request whose arguments changed since is refused as stale, alone. */
  "seen_args_digest": string;
}

/** One decision for several requests, each decided exactly as if decided alone. */
export interface BatchDecisionRequest {
  "channel"?: "api" | "cli";
  "decision_type": "APPROVE" | "REJECT";
  /** Scoped to the caller and to each request decided: the same batch sent again answers the same outcomes; the key reused with a changed item refuses that item (409 `idempotency_key_reused`). */
  "idempotency_key": string;
  /** At most 50 requests (more: 422 `batch_too_large`), each named once (else 409 `duplicate_in_batch`); nothing is decided then. */
  "items": Array<BatchDecisionItem>;
  "justification"?: string | null;
  /** The role acted in; default: per request, the one it needs */
  "role"?: string | null;
}

/** Every item's outcome, in the order sent. Answered 200 only when every item was
decided; 207 when any was refused (`refused` > 0), so no refusal passes unseen. */
export interface BatchDecisionResult {
  "decided": number;
  "items": Array<BatchItemOutcome>;
  "refused": number;
}

/** A refused item's error: the body the decision would have answered alone. */
export interface BatchItemError {
  "details"?: Record<string, unknown> | null;
  /** invalid_input, not_found, conflict, forbidden, ... */
  "error": string;
  "message": string;
  /** An `ErrorReason` (specs/reasons.json): stale, ... */
  "reason": string;
}

/** One request's outcome: decided (`result`), or refused (`error`), as alone. */
export interface BatchItemOutcome {
  "error"?: BatchItemError | null;
  "instance_id": string;
  "request_id": string;
  "result"?: DecisionResult | null;
  /** The HTTP status this decision would have answered alone: 200 when decided, else the error's (403, 404, 409, 422, 503). */
  "status": number;
}

/** One human's approval: the role they counted in. */
export interface BreakGlassApproval {
  "at": string;
  "human": string;
  "reason": string;
  "role": string;
}

export interface BreakGlassApprove {
  /** Why; audited */
  "reason": string;
}

export interface BreakGlassOpen {
  /** Why; audited and listed */
  "reason": string;
  /** One of {"team": T}, {"agent": A}, {"workflow": W, "version": V}, {"deployment": true} */
  "scope": HaltScope;
  /** How long it holds once its quorum is met (at most the deployment's maximum); never extended */
  "ttl": string | number;
}

/** A break-glass and where it stands now: gathering approvals, in effect, or ended. */
export interface BreakGlassView {
  "active_from"?: string | null;
  "approvals"?: Array<BreakGlassApproval>;
  "break_glass_id": string;
  "expires_at"?: string | null;
  "opened_at": string;
  "opened_by": string;
  "reason": string;
  "scope": HaltScope;
  "status": "pending" | "active" | "ended";
  "ttl_seconds": number;
}

export interface BundleEvent {
  "body": string;
  "hash": string;
  "log_index": number;
  "prev_hash": string;
  "seq": number;
  "type": string;
}

export interface BundleInclusion {
  "log_index": number;
  "proof": Array<string>;
}

export interface BundleSeal {
  "head": string;
  "log_index": number;
  "seq": number;
}

/** An evidence bundle (see `gantral.audit.bundle`); verify with `gantral audit verify`. */
export interface BundleView {
  "checkpoint": Checkpoint | null;
  /** The checkpoint as a C2SP signed note, verbatim, with any witness cosignatures (c2sp.org/tlog-checkpoint, tlog-cosignature); absent in bundles exported before notes existed. */
  "checkpoint_note"?: string | null;
  "decisions": Array<Record<string, unknown>>;
  "events": Array<BundleEvent>;
  "format": string;
  "inclusion": Array<BundleInclusion>;
  "instance_id": string;
  "seal": BundleSeal | null;
  "snapshots": Array<Record<string, unknown>>;
}

export interface CapacityCheck {
  "kind": string;
  "limit": number;
  "ok": boolean;
  "retry_after": number;
  "scope": string;
  "used": number;
}

export interface CapacityVerdict {
  "checks": Array<CapacityCheck>;
  "message": string;
  "ready": boolean;
  "reason": string;
  "retry_after": number;
  "rules_version": number | null;
  "scope": string | null;
}

export interface Change {
  "candidate": unknown;
  "instance_id": string;
  "kind": "outcome" | "materiality" | "approvers" | "deadline";
  "recorded": unknown;
  "seq": number;
  "step_id": string;
}

/** Per-channel choices of this policy. */
export interface Channels {
  "slack"?: SlackChannel | null;
}

/** Per-channel choices of this policy. */
export interface ChannelsInput {
  "slack"?: SlackChannelInput | null;
}

export interface Checkpoint {
  "key_id": string;
  "origin": string;
  "root": string;
  "signature"?: string;
  "size": number;
  "timestamp": string;
}

/** The instance's Temporal execution was closed around Gantral (`temporal workflow
terminate`, a reset, a run timeout, a failed run): no governed end was recorded and
the audit chain stays unsealed. Filled in by the API from Temporal, never by the
workflow; who closed it cannot be known (the sink records it in the access log). */
export interface ClosedOutside {
  "closed_at"?: string | null;
  "last_state": State;
  "run_id": string;
  "status": string;
}

/** A request left undecidable: its instance's execution was closed outside Gantral. */
export interface ClosedRequest {
  "closed_at": string | null;
  "instance_id": string;
  "owning_team_id": string | null;
  "reason": string;
  "request_id": string | null;
  "status": string;
  "workflow_id": string | null;
}

/** One comparison against the step context, e.g. `amount > 10000`. A published rule
reads facts only: `arguments.<path>`, `trigger.<path>`, `team` or `workflow` (a policy
pinned before that rule may hold another field, which then never matches). */
export interface Condition {
  "field": string;
  "op": Op;
  "value"?: string | number | boolean | Array<string | number | boolean | null> | null;
}

/** One comparison against the step context, e.g. `amount > 10000`. A published rule
reads facts only: `arguments.<path>`, `trigger.<path>`, `team` or `workflow` (a policy
pinned before that rule may hold another field, which then never matches). */
export interface ConditionInput {
  "field": string;
  "op": OpInput;
  "value"?: string | number | boolean | Array<string | number | boolean | null> | null;
}

export interface ConsistencyProofView {
  "first": number;
  "first_root": string;
  "proof": Array<string>;
  "second": number;
  "second_root": string;
}

/** A cost report, or an instance's running total of them.

Strict JSON numbers (a string such as "12" or "NaN" is refused, as are infinities),
never negative, and bounded: a report, and the total it would make, is refused (422)
past 2^53-1 tokens, 1e12 money (in the currency's major unit) or 1e9 seconds. Money in
another currency than the instance total's, or than its team's budget, is refused:
money is never converted, nor added across currencies. */
export interface Cost {
  "currency"?: string;
  "money"?: number;
  "tokens"?: number;
  "wall_time_seconds"?: number;
}

/** What a step cost, as an agent reports it: these fields only (another one is 422,
never silently dropped). */
export interface CostInput {
  "currency"?: string;
  "money"?: number;
  "tokens"?: number;
  "wall_time_seconds"?: number;
}

export interface Decision {
  "args_digest": string;
  "at": string;
  "channel"?: string;
  "channel_ref"?: string | null;
  "context_delta"?: Record<string, unknown> | null;
  "context_snapshot"?: Record<string, unknown> | null;
  "context_snapshot_ref"?: string | null;
  "decision_id": string;
  "decision_type": DecisionType;
  "delegation_id"?: string | null;
  "human_actor_id": string;
  "idempotency_key": string;
  "instance_id": string;
  "justification": string | null;
  "on_behalf_of"?: string | null;
  "request_id": string;
  "role": string;
}

export interface DecisionPath {
  "approved_at_tier": number | null;
  "explanation": Array<string>;
  "final_deadline_after": string | null;
  "grant_ttl": string;
  "ignored_approvals": Record<string, string>;
  "justification_required_for_approve": boolean;
  "matched_rules": Array<string>;
  "materiality": Materiality;
  "materiality_rule": string | null;
  "on_timeout": OnTimeout;
  "outcome": "ALLOW" | "APPROVED" | "PENDING";
  "override": OverridePath;
  "requires_human": boolean;
  "separation_of_duties": boolean;
  "sla": string | null;
  "tiers": Array<TierPath>;
  "unreadable_rules": Array<string>;
}

export interface DecisionRequest {
  "channel"?: "api" | "cli" | "mcp-elicitation";
  "context_delta"?: Record<string, unknown> | null;
  "decision_type": DecisionType;
  "idempotency_key": string;
  "justification"?: string | null;
  /** A deputy decides for this human, under their delegation in effect now (`PUT /v1/delegations/me`), with the roles delegated to them */
  "on_behalf_of"?: string | null;
  "request_id": string;
  /** The role acted in; default: the caller's first role */
  "role"?: string | null;
  /** The `args_digest` of the request as shown to the human; a request whose arguments changed since is refused as stale (409 `stale`). */
  "seen_args_digest": string;
  /** APPROVE only: also give a standing grant, a pattern that only narrows this request's arguments, for `ttl` and `max_uses` (bounded by the step's policy) */
  "standing"?: StandingAsk | null;
}

export interface DecisionResult {
  "decision": Decision;
  "request": HumanRequest;
  "standing_grant"?: StandingGrant | null;
  "state": State;
}

export type DecisionType = "APPROVE" | "REJECT" | "OVERRIDE";
export const DecisionTypeValues = ["APPROVE","REJECT","OVERRIDE"] as const;

/** One delegation as stored and listed: who stands in for whom, with which roles,
when, and (once ended early) who ended it. */
export interface Delegation {
  "created_at": string;
  "delegation_id": string;
  "delegator": string;
  "deputy": string;
  /** Set when ended early */
  "ended_at"?: string | null;
  "ended_by"?: string | null;
  "ends_at": string;
  "reason"?: string | null;
  "roles": Array<string>;
  "starts_at": string;
  "teams"?: Array<string> | null;
}

export interface DelegationSet {
  /** Their subject */
  "deputy": string;
  /** Bounded by the configured maximum */
  "ends_at": string;
  /** E.g. out of office */
  "reason"?: string | null;
  /** Roles handed over; default: every role the caller's token holds */
  "roles"?: Array<string> | null;
  /** Default: now */
  "starts_at"?: string | null;
}

/** One disagreement: which records, at which event, and both sides. */
export interface Divergence {
  "between": string;
  "expected": unknown;
  "field": string;
  "found": unknown;
  "message": string;
  "seq": number | null;
}

/** Every error: the class (`error`), the precise `reason`, and a message. */
export interface Error {
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "details"?: Record<string, unknown>;
  /** invalid_input, not_found, conflict, ... */
  "error": string;
  "message": string;
  "reason": ErrorReason;
}

/** Machine-readable cause: stable values, listed with their meaning in specs/reasons.json. */
export type ErrorReason = "agent_cannot_decide" | "algorithm_mismatch" | "algorithm_not_allowed" | "already_approved" | "already_counted" | "already_decided" | "already_exempted" | "already_lifted" | "already_revoked" | "args_digest_mismatch" | "args_digest_required" | "arguments_not_shown" | "audit_db_unavailable" | "audit_keys_invalid" | "audit_sealed" | "audit_seq_conflict" | "audit_seq_gap" | "audit_unavailable" | "backtest_too_large" | "bad_page_token" | "bad_payload" | "bad_signature" | "batch_too_large" | "body_too_large" | "break_glass_already_approved" | "break_glass_disabled" | "break_glass_not_pending" | "break_glass_role_required" | "break_glass_ttl_too_long" | "budget" | "callback_url_not_allowed" | "cancelled" | "channel_not_configured" | "codec_key_unknown" | "codec_needs_all_teams" | "codec_not_configured" | "codec_not_enabled" | "codec_payload_invalid" | "concurrency" | "conflict" | "contended" | "context_delta_required" | "continuing_as_new" | "cost_required" | "cost_too_large" | "counters_unavailable" | "currency_mismatch" | "decision_timeout" | "delegate_to_self" | "delegation_chain" | "delegation_disabled" | "delegation_not_in_effect" | "delegation_too_long" | "delegation_window" | "delegations_unavailable" | "deputy_away" | "dev_issuer_disabled" | "dev_issuer_in_production" | "discovery_mismatch" | "duplicate_in_batch" | "empty_body" | "error" | "evidence_too_large" | "exemption_already_approved" | "exemption_not_narrower" | "expired" | "fairness" | "field_not_a_fact" | "field_too_large" | "forbidden" | "foreign_workflow" | "grant_expired" | "grant_not_active" | "grant_not_yours" | "grant_reused" | "grant_step_mismatch" | "halted" | "halts_unavailable" | "history_archive_missing" | "history_archive_tampered" | "history_incomplete" | "history_not_archived" | "history_not_found" | "id_mismatch" | "idempotency_key_reused" | "illegal_transition" | "inconsistent_steps" | "inconsistent_timing" | "internal" | "invalid" | "invalid_clients" | "invalid_codec" | "invalid_codec_key" | "invalid_cost" | "invalid_currency" | "invalid_document" | "invalid_id" | "invalid_input" | "invalid_owner" | "invalid_permissions" | "invalid_query" | "invalid_role_directory" | "invalid_secret_reference" | "invalid_window" | "jira_unavailable" | "justification_required" | "jwks_unreachable" | "lift_already_approved" | "lift_role_required" | "lifter_is_raiser" | "malformed" | "malformed_json" | "method_not_allowed" | "missing_claim" | "missing_kid" | "missing_subject" | "missing_token" | "negative_cost" | "no_checkpoint_note" | "no_consistency_proof" | "no_core" | "no_delegation" | "no_evidence" | "no_grant" | "no_role" | "no_route" | "no_teams" | "not_a_gateway" | "not_a_human" | "not_authorized" | "not_canonical_json" | "not_found" | "not_governed" | "not_grant_approver" | "not_human" | "not_i_json" | "not_running" | "not_this_gateway" | "not_waiting" | "not_yet_checkpointed" | "not_yet_valid" | "not_your_team" | "payload_schema" | "payload_too_large" | "pending" | "pending_for_other_principal" | "permission_not_granted" | "policy_hash_mismatch" | "query_failed" | "raise_role_required" | "rate_limit" | "readiness_needs_database" | "ready" | "registry_unavailable" | "rejected" | "relay_unavailable" | "role_not_allowed" | "role_not_held" | "scope_not_granted" | "secret_env_not_set" | "secret_file_not_found" | "secret_not_found" | "self_approval_not_allowed" | "separation_of_duties" | "shadow_report_too_large" | "stale" | "stale_delivery" | "stale_signature" | "standing_exceeds_policy" | "standing_needs_sole_approver" | "standing_not_allowed" | "standing_pattern_widens" | "standing_role_not_allowed" | "standing_unavailable" | "step_id_required" | "superseded" | "team_not_granted" | "temporal_timeout" | "temporal_unavailable" | "terminal" | "too_deep" | "too_large" | "too_many_requests" | "unattested" | "unauthenticated" | "unavailable" | "unknown_break_glass" | "unknown_halt" | "unknown_instance" | "unknown_issue" | "unknown_key" | "unknown_policy" | "unknown_request" | "unknown_standing_grant" | "unknown_step" | "unknown_tree_size" | "unknown_user" | "unknown_version" | "unknown_workflow" | "unreadable_file" | "unsigned" | "validation_failed" | "vault_denied" | "vault_not_configured" | "vault_unreachable" | "version_conflict" | "version_superseded" | "window_too_large" | "workflow_error" | "wrong_audience" | "wrong_issuer";
export const ErrorReasonValues = ["agent_cannot_decide","algorithm_mismatch","algorithm_not_allowed","already_approved","already_counted","already_decided","already_exempted","already_lifted","already_revoked","args_digest_mismatch","args_digest_required","arguments_not_shown","audit_db_unavailable","audit_keys_invalid","audit_sealed","audit_seq_conflict","audit_seq_gap","audit_unavailable","backtest_too_large","bad_page_token","bad_payload","bad_signature","batch_too_large","body_too_large","break_glass_already_approved","break_glass_disabled","break_glass_not_pending","break_glass_role_required","break_glass_ttl_too_long","budget","callback_url_not_allowed","cancelled","channel_not_configured","codec_key_unknown","codec_needs_all_teams","codec_not_configured","codec_not_enabled","codec_payload_invalid","concurrency","conflict","contended","context_delta_required","continuing_as_new","cost_required","cost_too_large","counters_unavailable","currency_mismatch","decision_timeout","delegate_to_self","delegation_chain","delegation_disabled","delegation_not_in_effect","delegation_too_long","delegation_window","delegations_unavailable","deputy_away","dev_issuer_disabled","dev_issuer_in_production","discovery_mismatch","duplicate_in_batch","empty_body","error","evidence_too_large","exemption_already_approved","exemption_not_narrower","expired","fairness","field_not_a_fact","field_too_large","forbidden","foreign_workflow","grant_expired","grant_not_active","grant_not_yours","grant_reused","grant_step_mismatch","halted","halts_unavailable","history_archive_missing","history_archive_tampered","history_incomplete","history_not_archived","history_not_found","id_mismatch","idempotency_key_reused","illegal_transition","inconsistent_steps","inconsistent_timing","internal","invalid","invalid_clients","invalid_codec","invalid_codec_key","invalid_cost","invalid_currency","invalid_document","invalid_id","invalid_input","invalid_owner","invalid_permissions","invalid_query","invalid_role_directory","invalid_secret_reference","invalid_window","jira_unavailable","justification_required","jwks_unreachable","lift_already_approved","lift_role_required","lifter_is_raiser","malformed","malformed_json","method_not_allowed","missing_claim","missing_kid","missing_subject","missing_token","negative_cost","no_checkpoint_note","no_consistency_proof","no_core","no_delegation","no_evidence","no_grant","no_role","no_route","no_teams","not_a_gateway","not_a_human","not_authorized","not_canonical_json","not_found","not_governed","not_grant_approver","not_human","not_i_json","not_running","not_this_gateway","not_waiting","not_yet_checkpointed","not_yet_valid","not_your_team","payload_schema","payload_too_large","pending","pending_for_other_principal","permission_not_granted","policy_hash_mismatch","query_failed","raise_role_required","rate_limit","readiness_needs_database","ready","registry_unavailable","rejected","relay_unavailable","role_not_allowed","role_not_held","scope_not_granted","secret_env_not_set","secret_file_not_found","secret_not_found","self_approval_not_allowed","separation_of_duties","shadow_report_too_large","stale","stale_delivery","stale_signature","standing_exceeds_policy","standing_needs_sole_approver","standing_not_allowed","standing_pattern_widens","standing_role_not_allowed","standing_unavailable","step_id_required","superseded","team_not_granted","temporal_timeout","temporal_unavailable","terminal","too_deep","too_large","too_many_requests","unattested","unauthenticated","unavailable","unknown_break_glass","unknown_halt","unknown_instance","unknown_issue","unknown_key","unknown_policy","unknown_request","unknown_standing_grant","unknown_step","unknown_tree_size","unknown_user","unknown_version","unknown_workflow","unreadable_file","unsigned","validation_failed","vault_denied","vault_not_configured","vault_unreachable","version_conflict","version_superseded","window_too_large","workflow_error","wrong_audience","wrong_issuer"] as const;

/** The facts a running step's policy reads, and the approvals to try. */
export interface EvaluateRequest {
  "actors"?: Actors;
  /** The step's arguments A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "arguments"?: Record<string, unknown>;
  /** Free-form step context, as an agent sends it: never read by rules; its fields are listed in the explanation as ignored A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "context"?: Record<string, unknown>;
  /** The owning team id */
  "team"?: string | null;
  /** The instance's trigger context (fixed at start) A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "trigger"?: Record<string, unknown>;
  /** Default: the latest version */
  "version"?: number | null;
  /** The workflow id */
  "workflow"?: string | null;
}

export interface EventRequest {
  "args_digest"?: string | null;
  "cost"?: CostInput | null;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "detail"?: Record<string, unknown>;
  "grant_id"?: string | null;
  "idempotency_key"?: string | null;
  "kind": AgentEventKind;
  "step_id"?: string | null;
}

export interface EventView {
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "actor": Record<string, unknown>;
  "at": string;
  "body": string;
  "hash": string;
  "log_index": number;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "payload": Record<string, unknown>;
  "prev_hash": string;
  "seq": number;
  "snapshot": Record<string, unknown> | null;
  "type": string;
}

/** One human's approval of an exemption where the deployment lifts halts by a
quorum: the part (`scope`) and the role they counted in. The exemption takes effect
with the approval that makes the quorum for that part. */
export interface ExemptionApproval {
  "at": string;
  "human": string;
  "reason": string;
  "role": string;
  "scope": HaltScope;
}

export interface FinishRequest {
  "idempotency_key"?: string | null;
  "reason"?: string | null;
}

/** Authority to run one step once, with exactly the arguments whose digest it carries. */
export interface Grant {
  "args_digest": string;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "arguments": Record<string, unknown>;
  "expires_at": string;
  "grant_id": string;
  "holder"?: string | null;
  "request_id": string | null;
  "step_id": string;
}

/** A halt as stored and listed: who raised it, when, why; and its lift, once lifted. */
export interface Halt {
  "exemption_approvals"?: Array<ExemptionApproval>;
  "exemptions"?: Array<HaltExemption>;
  "halt_id": string;
  "lift_approvals"?: Array<LiftApproval>;
  "lift_by_another"?: boolean;
  "lift_reason"?: string | null;
  "lifted_at"?: string | null;
  "lifted_by"?: string | null;
  "raised_at": string;
  "raised_by": string;
  "reason": string;
  "scope": HaltScope;
}

export interface HaltExempt {
  /** Why; audited */
  "reason": string;
  /** A narrower part of the halt's scope that runs again (e.g. one agent or workflow of a halted team) */
  "scope": HaltScope;
}

/** Staged recovery: a narrower scope inside a halt that runs again while the rest of
the halt holds (one agent or workflow of a halted team, say). Its own act, audited. */
export interface HaltExemption {
  "at": string;
  "exempted_by": string;
  "reason": string;
  "scope": HaltScope;
}

export interface HaltLift {
  /** Why; audited */
  "reason": string;
}

export interface HaltRaise {
  /** Only someone other than the raiser may lift it */
  "lift_by_another"?: boolean;
  /** Why; audited and listed */
  "reason": string;
  /** One of {"team": T}, {"agent": A}, {"workflow": W, "version": V}, {"deployment": true} */
  "scope": HaltScope;
}

/** Exactly one of `team`, `agent`, `workflow` (with an optional `version`) or
`deployment: true`. */
export interface HaltScope {
  "agent"?: string | null;
  "deployment"?: true | null;
  "team"?: string | null;
  /** Only with `workflow` */
  "version"?: number | null;
  "workflow"?: string | null;
}

export interface Health {
  "status": string;
}

export interface HumanRequest {
  "action": string;
  "approvals"?: Record<string, string>;
  "args_digest": string;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "arguments": Record<string, unknown>;
  "context_delta"?: Record<string, unknown> | null;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "context_snapshot": Record<string, unknown>;
  "context_snapshot_ref"?: string | null;
  "created_at": string;
  "deadline": string | null;
  "decided_by"?: string | null;
  "decided_on_behalf_of"?: string | null;
  "decided_via"?: string | null;
  "decision_id"?: string | null;
  "deputies"?: Record<string, string>;
  "excluded_approvers"?: Array<string>;
  "grant"?: Grant | null;
  "grant_holder"?: string | null;
  "materiality": Materiality;
  "quorum"?: string;
  "request_id": string;
  "requested_by"?: string;
  "required_approvers": Array<string>;
  "resolved_at"?: string | null;
  "self_approval"?: boolean;
  "separation_of_duties_waived_for"?: Array<string>;
  "sla_deadline"?: string | null;
  "status"?: RequestStatus;
  "step_id": string;
  "still_needed"?: Array<string>;
  "superseded_by"?: string | null;
  "superseded_why"?: string | null;
  "tier"?: number;
}

/** One open request, with what an approver needs to judge its urgency and act on it. */
export interface InboxItem {
  "action": string;
  "approvals": number;
  "args_digest": string;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "arguments": Record<string, unknown>;
  "created_at": string;
  "deadline": string | null;
  "decidable_as": Array<string>;
  "deputy_for"?: Array<string>;
  "instance_id": string;
  "materiality": Materiality;
  "owning_team_id": string | null;
  "quorum": string;
  "request_id": string;
  "required_approvers": Array<string>;
  "sla_deadline": string | null;
  "step_id": string;
  "still_needed": Array<string>;
  "workflow_id": string | null;
}

export interface InboxPage {
  "closed_outside"?: Array<ClosedRequest>;
  "items": Array<InboxItem>;
  "next_page_token"?: string | null;
  "truncated": boolean;
}

export interface InclusionProofView {
  "checkpoint": Checkpoint | null;
  "instance_id": string;
  "leaf_hash": string;
  "log_index": number;
  "proof": Array<string>;
  "root": string;
  "seq": number;
  "tree_size": number;
}

export interface InstancePage {
  "items": Array<InstanceSummary>;
  "next_page_token": string | null;
}

export interface InstanceSummary {
  "closed": boolean;
  "closed_outside"?: string | null;
  "instance_id": string;
  "materiality": string | null;
  "owning_team_id": string | null;
  "started_at": string | null;
  "state": State | null;
  "summary": string | null;
  "workflow_id": string | null;
}

/** Everything the instance API shows. Readiness is not here: it is derived, never state. */
export interface InstanceView {
  "audit_events"?: number;
  "audit_head"?: string | null;
  "closed_outside"?: ClosedOutside | null;
  "cost": Cost;
  "created_at": string;
  "decisions": Array<Decision>;
  "instance_id": string;
  "owning_team_id": string;
  "pending_request": HumanRequest | null;
  "requests": Array<HumanRequest>;
  /** Readiness (reference §3.4): derived on every read, never stored or audited. */
  "runnable": boolean;
  "started_by": Actor;
  "state": State;
  "template_hash": string;
  "transitions": Array<TransitionRecord>;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "trigger_context": Record<string, unknown>;
  "updated_at": string;
  "workflow_id": string;
  "workflow_version": number;
}

/** Any JSON value the API accepts. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
export type JsonValue = null | boolean | string | number | Array<JsonValue> | { [key: string]: JsonValue };

/** Settings for one materiality level.

Setting `approvers` or `tiers` here implies `requires_human_approval: true`: a policy
that names approvers for a level never silently lets that level through. */
export interface LevelSettings {
  "approvers"?: Array<RoleRule> | RoleRule | AnyOf | AllOf | NOfRule | null;
  "grant_ttl"?: string | null;
  "justification_required_for_approve"?: boolean | null;
  "on_timeout"?: OnTimeout | null;
  "override_requires_justification"?: boolean | null;
  "override_requires_second_signoff"?: boolean | null;
  "override_roles"?: Array<string> | null;
  "reminders"?: Array<string> | null;
  "requires_human_approval"?: boolean | null;
  "sla"?: string | null;
  "tiers"?: Array<TierSpec> | null;
  "timeouts"?: Timeouts | null;
}

/** Settings for one materiality level.

Setting `approvers` or `tiers` here implies `requires_human_approval: true`: a policy
that names approvers for a level never silently lets that level through. */
export interface LevelSettingsInput {
  "approvers"?: Array<RoleRuleInput> | RoleRuleInput | AnyOfInput | AllOfInput | NOfRuleInput | null;
  "grant_ttl"?: string | number | null;
  "justification_required_for_approve"?: boolean | null;
  "on_timeout"?: OnTimeoutInput | null;
  "override_requires_justification"?: boolean | null;
  "override_requires_second_signoff"?: boolean | null;
  "override_roles"?: Array<string> | null;
  "reminders"?: Array<string | number> | null;
  "requires_human_approval"?: boolean | null;
  "sla"?: string | number | null;
  "tiers"?: Array<TierSpecInput> | null;
  "timeouts"?: TimeoutsInput | null;
}

/** One human's approval of a lift that needs a quorum (`GANTRAL_HALTS__LIFT`): the
role they counted in. The lift takes effect with the approval that makes the quorum. */
export interface LiftApproval {
  "at": string;
  "human": string;
  "reason": string;
  "role": string;
}

export type Materiality = "LOW" | "MEDIUM" | "HIGH" | "CRITICAL";
export const MaterialityValues = ["LOW","MEDIUM","HIGH","CRITICAL"] as const;

export type MaterialityInput = "LOW" | "MEDIUM" | "HIGH" | "CRITICAL";
export const MaterialityInputValues = ["LOW","MEDIUM","HIGH","CRITICAL"] as const;

/** `level` applies when every condition in `when` holds. The highest matching level wins. */
export interface MaterialityRule {
  "level": Materiality;
  "name"?: string | null;
  "when": Array<Condition>;
}

/** `level` applies when every condition in `when` holds. The highest matching level wins. */
export interface MaterialityRuleInput {
  "level": MaterialityInput;
  "name"?: string | null;
  "when": Array<ConditionInput>;
}

export interface MyDelegations {
  /** The caller's delegation, now or upcoming */
  "given": Delegation | null;
  /** Delegations naming the caller as deputy */
  "received": Array<Delegation>;
}

/** `n` of the rules in `of` must be satisfied: at most as many as there are (said in
the schema as one `if`/`then` per count, so both are bounded). */
export interface NOf {
  "n": number;
  "of": Array<RoleRule | AnyOf | AllOf | NOfRule>;
}

/** `n` of the rules in `of` must be satisfied: at most as many as there are (said in
the schema as one `if`/`then` per count, so both are bounded). */
export interface NOfInput {
  "n": number;
  "of": Array<RoleRuleInput | AnyOfInput | AllOfInput | NOfRuleInput>;
}

export interface NOfRule {
  "n_of": NOf;
}

export interface NOfRuleInput {
  "n_of": NOfInput;
}

/** Where today's code parted from a run's history, as Temporal reported it. */
export interface NonDeterminism {
  "event_id": number | null;
  "event_type": string | null;
  "kind": string;
  "message": string;
  "run_id": string;
}

/** Where this policy's requests are sent, instead of the team's configured place. */
export interface Notify {
  "slack": SlackNotify;
}

/** Where this policy's requests are sent, instead of the team's configured place. */
export interface NotifyInput {
  "slack": SlackNotifyInput;
}

export type OnTimeout = "EXPIRE" | "REJECT" | "APPROVE";
export const OnTimeoutValues = ["EXPIRE","REJECT","APPROVE"] as const;

export type OnTimeoutInput = "EXPIRE" | "REJECT" | "APPROVE";
export const OnTimeoutInputValues = ["EXPIRE","REJECT","APPROVE"] as const;

export type Op = "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "in" | "not_in" | "exists" | "missing";
export const OpValues = ["eq","ne","gt","ge","lt","le","in","not_in","exists","missing"] as const;

export type OpInput = "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "in" | "not_in" | "exists" | "missing";
export const OpInputValues = ["eq","ne","gt","ge","lt","le","in","not_in","exists","missing"] as const;

export interface OverridePath {
  "requires_justification": boolean;
  "requires_second_signoff": boolean;
  "roles": Array<string>;
}

export interface PinnedPolicy {
  "content_hash": string;
  "policy_id": string | null;
  "step_id": string;
  "version": number | null;
}

export interface PinnedVersions {
  "policies"?: Array<PinnedPolicy>;
  "template_hash": string | null;
  "workflow_id": string | null;
  "workflow_version": number | null;
}

/** One step's policy. A plain `approvers` list means every listed role must approve.

Every materiality level that needs a human must find approvers (its own, else the
policy's; the schema's `if`/`then` rules). Not expressible in the schema, refused at
load naming the field: a reminder at or after its deadline, `n_of.n` above the number
of rules, a tier without a timeout before the last, a materiality-rule field that is
not a fact. */
export interface Policy {
  "approvers"?: Array<RoleRule> | RoleRule | AnyOf | AllOf | NOfRule;
  "by_materiality"?: Record<string, LevelSettings>;
  "channels"?: Channels | null;
  "description"?: string;
  "grant_ttl"?: string;
  "id"?: string | null;
  "justification_required_for_approve"?: boolean;
  "key_fields"?: Array<string>;
  "kind"?: "gantral/policy";
  "materiality"?: Materiality;
  "materiality_rules"?: Array<MaterialityRule>;
  "notify"?: Notify | null;
  "on_timeout"?: OnTimeout;
  "override_requires_justification"?: boolean;
  "override_requires_second_signoff"?: boolean;
  "override_roles"?: Array<string>;
  "reminders"?: Array<string> | null;
  "requires_human_approval"?: boolean;
  "self_approval"?: "allowed" | null;
  "separation_of_duties"?: boolean;
  "sla"?: string | null;
  "standing"?: Standing | null;
  "tiers"?: Array<TierSpec> | null;
  "timeouts"?: Timeouts;
}

/** A policy document. Its id is the path's `policy_id`: the document may repeat it as `id`; another value is 422 `id_mismatch`.

One step's policy. A plain `approvers` list means every listed role must approve.

Every materiality level that needs a human must find approvers (its own, else the
policy's; the schema's `if`/`then` rules). Not expressible in the schema, refused at
load naming the field: a reminder at or after its deadline, `n_of.n` above the number
of rules, a tier without a timeout before the last, a materiality-rule field that is
not a fact. */
export interface PolicyDocumentInput {
  "approvers"?: Array<RoleRuleInput> | RoleRuleInput | AnyOfInput | AllOfInput | NOfRuleInput;
  "by_materiality"?: Record<string, LevelSettingsInput>;
  "channels"?: ChannelsInput | null;
  "description"?: string;
  /** A duration: '90s', '30m', '2h', '1d', '1h30m' (units in that order, a later one below the next unit, fraction on the last only), or seconds; below 10000 days. */
  "grant_ttl"?: string | number;
  "justification_required_for_approve"?: boolean;
  "key_fields"?: Array<string>;
  "kind"?: "gantral/policy";
  "materiality"?: MaterialityInput;
  "materiality_rules"?: Array<MaterialityRuleInput>;
  "notify"?: NotifyInput | null;
  "on_timeout"?: OnTimeoutInput;
  "override_requires_justification"?: boolean;
  "override_requires_second_signoff"?: boolean;
  "override_roles"?: Array<string>;
  "reminders"?: Array<string | number> | null;
  "requires_human_approval"?: boolean;
  "self_approval"?: "allowed" | null;
  "separation_of_duties"?: boolean;
  "sla"?: string | number | null;
  "standing"?: StandingInput | null;
  "tiers"?: Array<TierSpecInput> | null;
  "timeouts"?: TimeoutsInput;
}

/** One step's policy. A plain `approvers` list means every listed role must approve.

Every materiality level that needs a human must find approvers (its own, else the
policy's; the schema's `if`/`then` rules). Not expressible in the schema, refused at
load naming the field: a reminder at or after its deadline, `n_of.n` above the number
of rules, a tier without a timeout before the last, a materiality-rule field that is
not a fact. */
export interface PolicyInput {
  "approvers"?: Array<RoleRuleInput> | RoleRuleInput | AnyOfInput | AllOfInput | NOfRuleInput;
  "by_materiality"?: Record<string, LevelSettingsInput>;
  "channels"?: ChannelsInput | null;
  "description"?: string;
  /** A duration: '90s', '30m', '2h', '1d', '1h30m' (units in that order, a later one below the next unit, fraction on the last only), or seconds; below 10000 days. */
  "grant_ttl"?: string | number;
  "id"?: string | null;
  "justification_required_for_approve"?: boolean;
  "key_fields"?: Array<string>;
  "kind"?: "gantral/policy";
  "materiality"?: MaterialityInput;
  "materiality_rules"?: Array<MaterialityRuleInput>;
  "notify"?: NotifyInput | null;
  "on_timeout"?: OnTimeoutInput;
  "override_requires_justification"?: boolean;
  "override_requires_second_signoff"?: boolean;
  "override_roles"?: Array<string>;
  "reminders"?: Array<string | number> | null;
  "requires_human_approval"?: boolean;
  "self_approval"?: "allowed" | null;
  "separation_of_duties"?: boolean;
  "sla"?: string | number | null;
  "standing"?: StandingInput | null;
  "tiers"?: Array<TierSpecInput> | null;
  "timeouts"?: TimeoutsInput;
}

/** A stored policy: the latest version, or exactly `version` (and `content_hash`).

A `content_hash` pins a version, so it needs `version` too. */
export interface PolicyRef {
  "content_hash"?: string | null;
  "id": string;
  "version"?: number | null;
}

/** A stored policy: the latest version, or exactly `version` (and `content_hash`).

A `content_hash` pins a version, so it needs `version` too. */
export interface PolicyRefInput {
  "content_hash"?: string | null;
  "id": string;
  "version"?: number | null;
}

export interface ProblemView {
  "code": string;
  "instance_id"?: string | null;
  "message": string;
  "seq"?: number | null;
}

/** Whether the instance can advance now, and every reason it cannot. */
export interface ReadinessView {
  "agent_id": string;
  "blocked_by": Array<string>;
  "capacity": CapacityVerdict;
  "instance_id": string;
  "pending_request_id": string | null;
  "runnable": boolean;
  "state": State;
  "step_id": string | null;
  "team": string;
  "workflow_id": string;
}

export interface RefusalPage {
  "items": Array<RefusalView>;
  "next_page_token": string | null;
}

/** One refused attempt (an ACCESS_REFUSED event of the access log), with what is needed
to check it against the Merkle log: its chain, seq, log index and hash. An inclusion
proof: `GET /v1/audit/instances/{chain_id}/events/{seq}/inclusion`. */
export interface RefusalView {
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "actor": Record<string, unknown>;
  "at": string;
  "attempted": string;
  "body": string;
  "chain_id": string;
  "hash": string;
  "instance_id": string | null;
  "log_index": number;
  "message": string;
  "reason": string;
  "request_id": string | null;
  "seq": number;
}

export interface ReplayReport {
  "additions"?: Array<Divergence>;
  "audit": AuditAnchor;
  "code_version": string;
  "divergence_count": number;
  "divergences": Array<Divergence>;
  "first_divergence": Divergence | null;
  "format"?: "gantral-replay-report/v1";
  "generated_at": string;
  "history_sha256": string;
  "history_source": "temporal" | "archive";
  "instance_id": string;
  "match": boolean;
  "nondeterminism": Array<NonDeterminism>;
  "pinned": PinnedVersions;
  "replay": ReplayStats;
  "run_ids": Array<string>;
  "signature"?: Attestation | null;
  "snapshots": Array<SnapshotRef>;
  "timeline": Timeline;
}

export interface ReplayStats {
  "deterministic": boolean;
  "events_per_second": number;
  "history_events": number;
  "runs": number;
  "seconds": number;
}

export type RequestStatus = "PENDING" | "APPROVED" | "REJECTED" | "OVERRIDDEN" | "EXPIRED" | "SUPERSEDED" | "CANCELLED";
export const RequestStatusValues = ["PENDING","APPROVED","REJECTED","OVERRIDDEN","EXPIRED","SUPERSEDED","CANCELLED"] as const;

export interface RoleRule {
  "role": string;
}

export interface RoleRuleInput {
  "role": string;
}

/** A decision point where the shadow could not be evaluated (the enforced one decided). */
export interface ShadowError {
  "error": string;
  "instance_id": string;
  "seq": number;
  "step_id": string;
}

export interface ShadowReport {
  "changed": number;
  "counts"?: Record<string, number>;
  "decision_points": number;
  "error_examples"?: Array<ShadowError>;
  "errors": number;
  "evaluated": number;
  "examples"?: Array<Change>;
  "flips"?: Record<string, number>;
  "instances": number;
  "materiality_changes"?: Record<string, number>;
  "policy_id": string;
  "since": string;
  "unchanged": number;
  "until": string;
  "versions"?: Array<number>;
}

/** How this policy's requests may be decided from a Slack message. */
export interface SlackChannel {
  "approve_truncated"?: boolean | null;
}

/** How this policy's requests may be decided from a Slack message. */
export interface SlackChannelInput {
  "approve_truncated"?: boolean | null;
}

/** A Slack channel id (C..., or G... for an older private channel); not a #name,
which can change. */
export interface SlackNotify {
  "channel": string;
}

/** A Slack channel id (C..., or G... for an older private channel); not a #name,
which can change. */
export interface SlackNotifyInput {
  "channel": string;
}

export interface SnapshotRef {
  "key": string;
  "seq": number;
  "sha256": string;
}

/** What an approver may grant standing on this step (issue 24): at most `max_ttl`
long, `max_uses` uses, given only by a human approving in one of `roles`. Absent:
no standing grant; never at CRITICAL materiality. */
export interface Standing {
  "max_ttl": string;
  "max_uses": number;
  "roles": Array<string>;
}

/** What an approver asks for with an APPROVE: the pattern, how long, how many uses,
and whom it serves (the requesting agent, or every agent of the owning team). */
export interface StandingAsk {
  "max_uses": number;
  "pattern": Record<string, ArgumentPattern>;
  "serves"?: "agent" | "team";
  /** A duration: '90s', '30m', '2h', '1d', '1h30m' (units in that order, a later one below the next unit, fraction on the last only), or seconds; below 10000 days. */
  "ttl": string | number;
}

/** A standing grant as recorded (`STANDING_GRANT_GIVEN`), stored and listed. */
export interface StandingGrant {
  "action": string;
  "agent": string | null;
  "approver": string;
  "approver_role": string;
  "expires_at": string;
  "given_at": string;
  "instance_id": string;
  "materiality": Materiality;
  "max_uses": number;
  "pattern": Record<string, ArgumentPattern>;
  "request_id": string;
  "revoke_reason"?: string | null;
  "revoked_at"?: string | null;
  "revoked_by"?: string | null;
  "standing_id": string;
  "step_id": string;
  "team": string;
  "uses"?: number;
  "workflow_id": string;
}

/** What an approver may grant standing on this step (issue 24): at most `max_ttl`
long, `max_uses` uses, given only by a human approving in one of `roles`. Absent:
no standing grant; never at CRITICAL materiality. */
export interface StandingInput {
  /** A duration: '90s', '30m', '2h', '1d', '1h30m' (units in that order, a later one below the next unit, fraction on the last only), or seconds; below 10000 days. */
  "max_ttl": string | number;
  "max_uses": number;
  "roles": Array<string>;
}

export interface StandingRevoke {
  /** Why; audited */
  "reason": string;
}

export interface StartInstanceRequest {
  /** https:// (http:// only to a loopback address or localhost), no user or password; the same rule applies to trigger_context['gantral:callback_url']. */
  "callback_url"?: string | null;
  "idempotency_key"?: string | null;
  "owning_team_id": string;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "trigger_context"?: Record<string, unknown>;
  "workflow_id": string;
  "workflow_version"?: number | null;
}

export interface Started {
  "created": boolean;
  "instance_id": string;
  "owning_team_id": string;
  "workflow_id": string;
}

export type State = "CREATED" | "RUNNING" | "WAITING_FOR_HUMAN" | "APPROVED" | "REJECTED" | "OVERRIDDEN" | "EXPIRED" | "RESUMED" | "COMPLETED" | "TERMINATED";
export const StateValues = ["CREATED","RUNNING","WAITING_FOR_HUMAN","APPROVED","REJECTED","OVERRIDDEN","EXPIRED","RESUMED","COMPLETED","TERMINATED"] as const;

/** One step. Its policy is inlined (`policy`) or stored (`policy_ref`), not both; both
only in the pinned form, where `policy` is exactly the version `policy_ref` names and
its content hash is `policy_ref.content_hash` (refused otherwise, 422 naming
`steps[i]`; the hash is not expressible in the schema). */
export interface StepDefinition {
  "depends_on"?: Array<string>;
  "description"?: string;
  "governed"?: boolean;
  "id": string;
  "policy"?: Policy;
  "policy_ref"?: PolicyRef | null;
  "shadow"?: PolicyRef | null;
}

/** One step. Its policy is inlined (`policy`) or stored (`policy_ref`), not both; both
only in the pinned form, where `policy` is exactly the version `policy_ref` names and
its content hash is `policy_ref.content_hash` (refused otherwise, 422 naming
`steps[i]`; the hash is not expressible in the schema). */
export interface StepDefinitionInput {
  "depends_on"?: Array<string>;
  "description"?: string;
  "governed"?: boolean;
  "id": string;
  "policy"?: PolicyInput;
  "policy_ref"?: PolicyRefInput | null;
  "shadow"?: PolicyRefInput | null;
}

export interface StoredPolicy {
  "content_hash": string;
  "created_at": string;
  "policy": Policy;
  "policy_id": string;
  "source"?: string | null;
  "version": number;
}

export interface StoredTemplate {
  "content_hash": string;
  "created_at": string;
  "source"?: string | null;
  "template": WorkflowTemplate;
  "version": number;
  "workflow_id": string;
}

/** Whether instances may start from one template version, and who decided it. */
export interface TemplateActivation {
  "justification"?: string | null;
  "kept_active": boolean;
  "latest_version": number;
  "set_at"?: string | null;
  "set_by"?: string | null;
  "startable": boolean;
  "version": number;
  "workflow_id": string;
}

export interface TierPath {
  "approvers": string;
  "counted": Array<string>;
  "deadline_after": string | null;
  "min_humans": number;
  "name": string | null;
  "reminders_after": Array<string>;
  "roles": Array<string>;
  "satisfied": boolean;
  "still_needed": Array<string>;
  "tier": number;
  "timeout": string | null;
}

/** One explicit rung of an escalation chain. No `approvers` means the policy's (an
empty list is refused). Reminders need the tier's `timeout` and come before it. */
export interface TierSpec {
  "approvers"?: Array<RoleRule> | RoleRule | AnyOf | AllOf | NOfRule | null;
  "name"?: string | null;
  "reminders"?: Array<string>;
  "timeout"?: string | null;
}

/** One explicit rung of an escalation chain. No `approvers` means the policy's (an
empty list is refused). Reminders need the tier's `timeout` and come before it. */
export interface TierSpecInput {
  "approvers"?: Array<RoleRuleInput> | RoleRuleInput | AnyOfInput | AllOfInput | NOfRuleInput | null;
  "name"?: string | null;
  "reminders"?: Array<string | number>;
  "timeout"?: string | number | null;
}

/** What happened to one instance, section by section, each in audit order. */
export interface Timeline {
  "agent"?: Array<TimelineEntry>;
  "cost"?: TimelineCost;
  "costs"?: Array<TimelineEntry>;
  "decisions"?: Array<TimelineEntry>;
  "escalations"?: Array<TimelineEntry>;
  "evaluations"?: Array<TimelineEntry>;
  "events"?: number;
  "final_state"?: string | null;
  "grants"?: Array<TimelineEntry>;
  "instance_id": string;
  "requests"?: Array<TimelineEntry>;
  "sealed"?: boolean;
  "started"?: TimelineEntry | null;
  "transitions"?: Array<TimelineEntry>;
}

export interface TimelineCost {
  "money"?: number;
  "tokens"?: number;
  "wall_time_seconds"?: number;
}

export interface TimelineEntry {
  "actor": string;
  "at": string;
  /** A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field. */
  "payload": Record<string, unknown>;
  "seq": number;
  "snapshot_sha256"?: string | null;
  "type": string;
}

export interface Timeouts {
  "escalation"?: string | null;
  "primary"?: string | null;
}

export interface TimeoutsInput {
  "escalation"?: string | number | null;
  "primary"?: string | number | null;
}

export interface TransitionRecord {
  "actor": Actor;
  "at": string;
  "cause": string;
  "from_state": State;
  "request_id"?: string | null;
  "seq": number;
  "to_state": State;
}

/** What starts an instance, e.g. source `github`, event `pull_request.opened`,
match `{repository: acme/payments}`; or source `manual`. */
export interface Trigger {
  "description"?: string;
  "event"?: string | null;
  "match"?: Record<string, string | number | boolean>;
  "source": string;
}

/** What starts an instance, e.g. source `github`, event `pull_request.opened`,
match `{repository: acme/payments}`; or source `manual`. */
export interface TriggerInput {
  "description"?: string;
  "event"?: string | null;
  "match"?: Record<string, string | number | boolean>;
  "source": string;
}

export interface TriggerResult {
  "delivery": string;
  "started": Array<Started>;
}

export type Verdict = "VALID" | "INVALID" | "INCONCLUSIVE";
export const VerdictValues = ["VALID","INVALID","INCONCLUSIVE"] as const;

export interface VerifyView {
  "checkpoints": number;
  "events": number;
  "instance_id": string;
  "ok": boolean;
  "problems": Array<ProblemView>;
  "signatures_checked": boolean;
  /** VALID: every check ran and held. INVALID: something is broken. INCONCLUSIVE: nothing broken, but a check could not run (no public key configured). */
  "verdict": Verdict;
}

/** A workflow template. Step ids are unique; each step's `depends_on` names other
steps of the template, without a cycle (not expressible in the schema beyond a single
step, which depends on nothing: refused naming the step). */
export interface WorkflowTemplate {
  "default_materiality"?: Materiality;
  "description"?: string;
  "id": string;
  "kind"?: "gantral/workflow";
  "steps": Array<StepDefinition>;
  "triggers"?: Array<Trigger>;
  "version"?: number;
}

/** A workflow template document. Its id is the path's `workflow_id`: the document may repeat it as `id`; another value is 422 `id_mismatch`. */
export interface WorkflowTemplateInput {
  "default_materiality"?: MaterialityInput;
  "description"?: string;
  "kind"?: "gantral/workflow";
  "steps": Array<StepDefinitionInput>;
  "triggers"?: Array<TriggerInput>;
  "version"?: number;
}

// Code generated from specs/openapi.json by cmd/gentypes; DO NOT EDIT.
// Run `go run ./cmd/gentypes`; the tests fail when this file and the spec drift apart.

package gantral

type ActivationChange struct {
	// Why; audited
	Justification string `json:"justification"`
	// true: instances may still start from this version after it is superseded; false: undo that (only the latest version can then be started)
	KeepActive bool `json:"keep_active"`
}

type Actor struct {
	ID    string    `json:"id"`
	Kind  ActorKind `json:"kind"`
	Owner *string   `json:"owner,omitempty"`
	Roles []string  `json:"roles,omitempty"`
}

type ActorKind string

const (
	ActorKindHuman  ActorKind = "human"
	ActorKindAgent  ActorKind = "agent"
	ActorKindSystem ActorKind = "system"
)

// Who is involved: the people separation of duties excludes, and approvals to try.
type Actors struct {
	AgentOwner   *string           `json:"agent_owner,omitempty"`
	Approvals    map[string]string `json:"approvals,omitempty"`
	Requester    *string           `json:"requester,omitempty"`
	TriggerActor *string           `json:"trigger_actor,omitempty"`
}

type AgentEventKind string

const (
	AgentEventKindStepStarted   AgentEventKind = "STEP_STARTED"
	AgentEventKindStepCompleted AgentEventKind = "STEP_COMPLETED"
	AgentEventKindStepFailed    AgentEventKind = "STEP_FAILED"
	AgentEventKindCost          AgentEventKind = "COST"
)

type AgentEventResult struct {
	Accepted bool  `json:"accepted"`
	Cost     Cost  `json:"cost"`
	State    State `json:"state"`
}

type AllOf struct {
	AllOf []any `json:"all_of"`
}

type AllOfInput struct {
	AllOf []any `json:"all_of"`
}

type AnyOf struct {
	AnyOf []any `json:"any_of"`
}

type AnyOfInput struct {
	AnyOf []any `json:"any_of"`
}

// One argument's constraint: exactly one of `equals`, `range`(`min`/`max`), `prefix`,
// `one_of`.
type ArgumentPattern struct {
	Equals any      `json:"equals,omitempty"`
	Max    *float64 `json:"max,omitempty"`
	Min    *float64 `json:"min,omitempty"`
	OneOf  []any    `json:"one_of,omitempty"`
	Prefix *string  `json:"prefix,omitempty"`
}

// The API's signature over one call: which key signed, and the signature (hex).
type Attestation struct {
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

type AuditAnchor struct {
	Checkpoint *Checkpoint `json:"checkpoint"`
	Events     int64       `json:"events"`
	Head       *string     `json:"head"`
	Sealed     bool        `json:"sealed"`
}

type AuditTrailView struct {
	BundleKeys []string    `json:"bundle_keys"`
	Events     []EventView `json:"events"`
	Head       *string     `json:"head"`
	InstanceID string      `json:"instance_id"`
	// The API path listing the refused attempts on this instance (`GET /v1/audit/refusals?instance_id=...`)
	Refusals *string `json:"refusals,omitempty"`
	Sealed   bool    `json:"sealed"`
}

type AuthorizeOutcome string

const (
	AuthorizeOutcomeAllow    AuthorizeOutcome = "ALLOW"
	AuthorizeOutcomePending  AuthorizeOutcome = "PENDING"
	AuthorizeOutcomeNotReady AuthorizeOutcome = "NOT_READY"
)

type AuthorizeRequest struct {
	Action string `json:"action,omitempty"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Arguments map[string]JsonValue `json:"arguments,omitempty"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Context        map[string]JsonValue `json:"context,omitempty"`
	IdempotencyKey *string              `json:"idempotency_key,omitempty"`
}

type AuthorizeResult struct {
	ArgsDigest   string           `json:"args_digest"`
	BreakGlassID *string          `json:"break_glass_id,omitempty"`
	Explanation  []string         `json:"explanation"`
	Grant        *Grant           `json:"grant,omitempty"`
	Materiality  *Materiality     `json:"materiality"`
	Outcome      AuthorizeOutcome `json:"outcome"`
	Reason       *string          `json:"reason,omitempty"`
	Request      *HumanRequest    `json:"request,omitempty"`
	RetryAfter   *float64         `json:"retry_after,omitempty"`
	StandingID   *string          `json:"standing_id,omitempty"`
	StepID       string           `json:"step_id"`
}

type BacktestReport struct {
	CandidateHash  string           `json:"candidate_hash"`
	Changed        int64            `json:"changed"`
	Counts         map[string]int64 `json:"counts,omitempty"`
	DecisionPoints int64            `json:"decision_points"`
	Evaluated      int64            `json:"evaluated"`
	Examples       []Change         `json:"examples,omitempty"`
	Instances      int64            `json:"instances"`
	OtherPolicies  int64            `json:"other_policies,omitempty"`
	PolicyID       string           `json:"policy_id"`
	Since          *string          `json:"since"`
	Unchanged      int64            `json:"unchanged"`
	Unrecoverable  int64            `json:"unrecoverable"`
	WorkflowID     *string          `json:"workflow_id"`
}

// Which recorded decisions to replay the candidate on, and the candidate itself.
type BacktestRequest struct {
	// An unpublished candidate policy document, tried instead
	Policy *PolicyInput `json:"policy,omitempty"`
	// Instances started this long ago at most (null: all)
	Since *string `json:"since,omitempty"`
	// Only this step
	StepID *string `json:"step_id,omitempty"`
	// The stored version to try (default: the latest)
	Version *int64 `json:"version,omitempty"`
	// Instances of this workflow
	WorkflowID string `json:"workflow_id"`
}

// One request of a batch, named as the human was shown it.
type BatchDecisionItem struct {
	InstanceID string `json:"instance_id"`
	RequestID  string `json:"request_id"`
	// The `args_digest` of this request as shown to the human; a request whose arguments changed since is refused as stale, alone.
	SeenArgsDigest string `json:"seen_args_digest"`
}

// One decision for several requests, each decided exactly as if decided alone.
type BatchDecisionRequest struct {
	Channel      string `json:"channel,omitempty"`
	DecisionType string `json:"decision_type"`
	// Scoped to the caller and to each request decided: the same batch sent again answers the same outcomes; the key reused with a changed item refuses that item (409 `idempotency_key_reused`).
	IdempotencyKey string `json:"idempotency_key"`
	// At most 50 requests (more: 422 `batch_too_large`), each named once (else 409 `duplicate_in_batch`); nothing is decided then.
	Items         []BatchDecisionItem `json:"items"`
	Justification *string             `json:"justification,omitempty"`
	// The role acted in; default: per request, the one it needs
	Role *string `json:"role,omitempty"`
}

// Every item's outcome, in the order sent. Answered 200 only when every item was
// decided; 207 when any was refused (`refused` > 0), so no refusal passes unseen.
type BatchDecisionResult struct {
	Decided int64              `json:"decided"`
	Items   []BatchItemOutcome `json:"items"`
	Refused int64              `json:"refused"`
}

// A refused item's error: the body the decision would have answered alone.
type BatchItemError struct {
	Details map[string]JsonValue `json:"details,omitempty"`
	// invalid_input, not_found, conflict, forbidden, ...
	Error   string `json:"error"`
	Message string `json:"message"`
	// An `ErrorReason` (specs/reasons.json): stale, ...
	Reason string `json:"reason"`
}

// One request's outcome: decided (`result`), or refused (`error`), as alone.
type BatchItemOutcome struct {
	Error      *BatchItemError `json:"error,omitempty"`
	InstanceID string          `json:"instance_id"`
	RequestID  string          `json:"request_id"`
	Result     *DecisionResult `json:"result,omitempty"`
	// The HTTP status this decision would have answered alone: 200 when decided, else the error's (403, 404, 409, 422, 503).
	Status int64 `json:"status"`
}

// One human's approval: the role they counted in.
type BreakGlassApproval struct {
	At     string `json:"at"`
	Human  string `json:"human"`
	Reason string `json:"reason"`
	Role   string `json:"role"`
}

type BreakGlassApprove struct {
	// Why; audited
	Reason string `json:"reason"`
}

type BreakGlassOpen struct {
	// Why; audited and listed
	Reason string `json:"reason"`
	// One of {"team": T}, {"agent": A}, {"workflow": W, "version": V}, {"deployment": true}
	Scope HaltScope `json:"scope"`
	// How long it holds once its quorum is met (at most the deployment's maximum); never extended
	TTL any `json:"ttl"`
}

// A break-glass and where it stands now: gathering approvals, in effect, or ended.
type BreakGlassView struct {
	ActiveFrom   *string              `json:"active_from,omitempty"`
	Approvals    []BreakGlassApproval `json:"approvals,omitempty"`
	BreakGlassID string               `json:"break_glass_id"`
	ExpiresAt    *string              `json:"expires_at,omitempty"`
	OpenedAt     string               `json:"opened_at"`
	OpenedBy     string               `json:"opened_by"`
	Reason       string               `json:"reason"`
	Scope        HaltScope            `json:"scope"`
	Status       string               `json:"status"`
	TTLSeconds   float64              `json:"ttl_seconds"`
}

type BundleEvent struct {
	Body     string `json:"body"`
	Hash     string `json:"hash"`
	LogIndex int64  `json:"log_index"`
	PrevHash string `json:"prev_hash"`
	Seq      int64  `json:"seq"`
	Type     string `json:"type"`
}

type BundleInclusion struct {
	LogIndex int64    `json:"log_index"`
	Proof    []string `json:"proof"`
}

type BundleSeal struct {
	Head     string `json:"head"`
	LogIndex int64  `json:"log_index"`
	Seq      int64  `json:"seq"`
}

// An evidence bundle (see `gantral.audit.bundle`); verify with `gantral audit verify`.
type BundleView struct {
	Checkpoint *Checkpoint `json:"checkpoint"`
	// The checkpoint as a C2SP signed note, verbatim, with any witness cosignatures (c2sp.org/tlog-checkpoint, tlog-cosignature); absent in bundles exported before notes existed.
	CheckpointNote *string                `json:"checkpoint_note,omitempty"`
	Decisions      []map[string]JsonValue `json:"decisions"`
	Events         []BundleEvent          `json:"events"`
	Format         string                 `json:"format"`
	Inclusion      []BundleInclusion      `json:"inclusion"`
	InstanceID     string                 `json:"instance_id"`
	Seal           *BundleSeal            `json:"seal"`
	Snapshots      []map[string]JsonValue `json:"snapshots"`
}

type CapacityCheck struct {
	Kind       string  `json:"kind"`
	Limit      float64 `json:"limit"`
	OK         bool    `json:"ok"`
	RetryAfter float64 `json:"retry_after"`
	Scope      string  `json:"scope"`
	Used       float64 `json:"used"`
}

type CapacityVerdict struct {
	Checks       []CapacityCheck `json:"checks"`
	Message      string          `json:"message"`
	Ready        bool            `json:"ready"`
	Reason       string          `json:"reason"`
	RetryAfter   float64         `json:"retry_after"`
	RulesVersion *int64          `json:"rules_version"`
	Scope        *string         `json:"scope"`
}

type Change struct {
	Candidate  any    `json:"candidate"`
	InstanceID string `json:"instance_id"`
	Kind       string `json:"kind"`
	Recorded   any    `json:"recorded"`
	Seq        int64  `json:"seq"`
	StepID     string `json:"step_id"`
}

// Per-channel choices of this policy.
type Channels struct {
	Slack *SlackChannel `json:"slack,omitempty"`
}

// Per-channel choices of this policy.
type ChannelsInput struct {
	Slack *SlackChannelInput `json:"slack,omitempty"`
}

type Checkpoint struct {
	KeyID     string `json:"key_id"`
	Origin    string `json:"origin"`
	Root      string `json:"root"`
	Signature string `json:"signature,omitempty"`
	Size      int64  `json:"size"`
	Timestamp string `json:"timestamp"`
}

// The instance's Temporal execution was closed around Gantral (`temporal workflow
// terminate`, a reset, a run timeout, a failed run): no governed end was recorded and
// the audit chain stays unsealed. Filled in by the API from Temporal, never by the
// workflow; who closed it cannot be known (the sink records it in the access log).
type ClosedOutside struct {
	ClosedAt  *string `json:"closed_at,omitempty"`
	LastState State   `json:"last_state"`
	RunID     string  `json:"run_id"`
	Status    string  `json:"status"`
}

// A request left undecidable: its instance's execution was closed outside Gantral.
type ClosedRequest struct {
	ClosedAt     *string `json:"closed_at"`
	InstanceID   string  `json:"instance_id"`
	OwningTeamID *string `json:"owning_team_id"`
	Reason       string  `json:"reason"`
	RequestID    *string `json:"request_id"`
	Status       string  `json:"status"`
	WorkflowID   *string `json:"workflow_id"`
}

// One comparison against the step context, e.g. `amount > 10000`. A published rule
// reads facts only: `arguments.<path>`, `trigger.<path>`, `team` or `workflow` (a policy
// pinned before that rule may hold another field, which then never matches).
type Condition struct {
	Field string `json:"field"`
	Op    Op     `json:"op"`
	Value any    `json:"value,omitempty"`
}

// One comparison against the step context, e.g. `amount > 10000`. A published rule
// reads facts only: `arguments.<path>`, `trigger.<path>`, `team` or `workflow` (a policy
// pinned before that rule may hold another field, which then never matches).
type ConditionInput struct {
	Field string  `json:"field"`
	Op    OpInput `json:"op"`
	Value any     `json:"value,omitempty"`
}

type ConsistencyProofView struct {
	First      int64    `json:"first"`
	FirstRoot  string   `json:"first_root"`
	Proof      []string `json:"proof"`
	Second     int64    `json:"second"`
	SecondRoot string   `json:"second_root"`
}

// A cost report, or an instance's running total of them.
//
// Strict JSON numbers (a string such as "12" or "NaN" is refused, as are infinities),
// never negative, and bounded: a report, and the total it would make, is refused (422)
// past 2^53-1 tokens, 1e12 money (in the currency's major unit) or 1e9 seconds. Money in
// another currency than the instance total's, or than its team's budget, is refused:
// money is never converted, nor added across currencies.
type Cost struct {
	Currency        string  `json:"currency,omitempty"`
	Money           float64 `json:"money,omitempty"`
	Tokens          int64   `json:"tokens,omitempty"`
	WallTimeSeconds float64 `json:"wall_time_seconds,omitempty"`
}

// What a step cost, as an agent reports it: these fields only (another one is 422,
// never silently dropped).
type CostInput struct {
	Currency        string  `json:"currency,omitempty"`
	Money           float64 `json:"money,omitempty"`
	Tokens          int64   `json:"tokens,omitempty"`
	WallTimeSeconds float64 `json:"wall_time_seconds,omitempty"`
}

type Decision struct {
	ArgsDigest         string               `json:"args_digest"`
	At                 string               `json:"at"`
	Channel            string               `json:"channel,omitempty"`
	ChannelRef         *string              `json:"channel_ref,omitempty"`
	ContextDelta       map[string]JsonValue `json:"context_delta,omitempty"`
	ContextSnapshot    map[string]JsonValue `json:"context_snapshot,omitempty"`
	ContextSnapshotRef *string              `json:"context_snapshot_ref,omitempty"`
	DecisionID         string               `json:"decision_id"`
	DecisionType       DecisionType         `json:"decision_type"`
	DelegationID       *string              `json:"delegation_id,omitempty"`
	HumanActorID       string               `json:"human_actor_id"`
	IdempotencyKey     string               `json:"idempotency_key"`
	InstanceID         string               `json:"instance_id"`
	Justification      *string              `json:"justification"`
	OnBehalfOf         *string              `json:"on_behalf_of,omitempty"`
	RequestID          string               `json:"request_id"`
	Role               string               `json:"role"`
}

type DecisionPath struct {
	ApprovedAtTier                  *int64            `json:"approved_at_tier"`
	Explanation                     []string          `json:"explanation"`
	FinalDeadlineAfter              *string           `json:"final_deadline_after"`
	GrantTTL                        string            `json:"grant_ttl"`
	IgnoredApprovals                map[string]string `json:"ignored_approvals"`
	JustificationRequiredForApprove bool              `json:"justification_required_for_approve"`
	MatchedRules                    []string          `json:"matched_rules"`
	Materiality                     Materiality       `json:"materiality"`
	MaterialityRule                 *string           `json:"materiality_rule"`
	OnTimeout                       OnTimeout         `json:"on_timeout"`
	Outcome                         string            `json:"outcome"`
	Override                        OverridePath      `json:"override"`
	RequiresHuman                   bool              `json:"requires_human"`
	SeparationOfDuties              bool              `json:"separation_of_duties"`
	SLA                             *string           `json:"sla"`
	Tiers                           []TierPath        `json:"tiers"`
	UnreadableRules                 []string          `json:"unreadable_rules"`
}

type DecisionRequest struct {
	Channel        string               `json:"channel,omitempty"`
	ContextDelta   map[string]JsonValue `json:"context_delta,omitempty"`
	DecisionType   DecisionType         `json:"decision_type"`
	IdempotencyKey string               `json:"idempotency_key"`
	Justification  *string              `json:"justification,omitempty"`
	// A deputy decides for this human, under their delegation in effect now (`PUT /v1/delegations/me`), with the roles delegated to them
	OnBehalfOf *string `json:"on_behalf_of,omitempty"`
	RequestID  string  `json:"request_id"`
	// The role acted in; default: the caller's first role
	Role *string `json:"role,omitempty"`
	// The `args_digest` of the request as shown to the human; a request whose arguments changed since is refused as stale (409 `stale`).
	SeenArgsDigest string `json:"seen_args_digest"`
	// APPROVE only: also give a standing grant, a pattern that only narrows this request's arguments, for `ttl` and `max_uses` (bounded by the step's policy)
	Standing *StandingAsk `json:"standing,omitempty"`
}

type DecisionResult struct {
	Decision      Decision       `json:"decision"`
	Request       HumanRequest   `json:"request"`
	StandingGrant *StandingGrant `json:"standing_grant,omitempty"`
	State         State          `json:"state"`
}

type DecisionType string

const (
	DecisionTypeApprove  DecisionType = "APPROVE"
	DecisionTypeReject   DecisionType = "REJECT"
	DecisionTypeOverride DecisionType = "OVERRIDE"
)

// One delegation as stored and listed: who stands in for whom, with which roles,
// when, and (once ended early) who ended it.
type Delegation struct {
	CreatedAt    string `json:"created_at"`
	DelegationID string `json:"delegation_id"`
	Delegator    string `json:"delegator"`
	Deputy       string `json:"deputy"`
	// Set when ended early
	EndedAt  *string  `json:"ended_at,omitempty"`
	EndedBy  *string  `json:"ended_by,omitempty"`
	EndsAt   string   `json:"ends_at"`
	Reason   *string  `json:"reason,omitempty"`
	Roles    []string `json:"roles"`
	StartsAt string   `json:"starts_at"`
	Teams    []string `json:"teams,omitempty"`
}

type DelegationSet struct {
	// Their subject
	Deputy string `json:"deputy"`
	// Bounded by the configured maximum
	EndsAt string `json:"ends_at"`
	// E.g. out of office
	Reason *string `json:"reason,omitempty"`
	// Roles handed over; default: every role the caller's token holds
	Roles []string `json:"roles,omitempty"`
	// Default: now
	StartsAt *string `json:"starts_at,omitempty"`
}

// One disagreement: which records, at which event, and both sides.
type Divergence struct {
	Between  string `json:"between"`
	Expected any    `json:"expected"`
	Field    string `json:"field"`
	Found    any    `json:"found"`
	Message  string `json:"message"`
	Seq      *int64 `json:"seq"`
}

// Every error: the class (`error`), the precise `reason`, and a message.
type Error struct {
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Details map[string]JsonValue `json:"details,omitempty"`
	// invalid_input, not_found, conflict, ...
	Error   string      `json:"error"`
	Message string      `json:"message"`
	Reason  ErrorReason `json:"reason"`
}

// Machine-readable cause: stable values, listed with their meaning in specs/reasons.json.
type ErrorReason string

const (
	ErrorReasonAgentCannotDecide         ErrorReason = "agent_cannot_decide"
	ErrorReasonAlgorithmMismatch         ErrorReason = "algorithm_mismatch"
	ErrorReasonAlgorithmNotAllowed       ErrorReason = "algorithm_not_allowed"
	ErrorReasonAlreadyApproved           ErrorReason = "already_approved"
	ErrorReasonAlreadyCounted            ErrorReason = "already_counted"
	ErrorReasonAlreadyDecided            ErrorReason = "already_decided"
	ErrorReasonAlreadyExempted           ErrorReason = "already_exempted"
	ErrorReasonAlreadyLifted             ErrorReason = "already_lifted"
	ErrorReasonAlreadyRevoked            ErrorReason = "already_revoked"
	ErrorReasonArgsDigestMismatch        ErrorReason = "args_digest_mismatch"
	ErrorReasonArgsDigestRequired        ErrorReason = "args_digest_required"
	ErrorReasonArgumentsNotShown         ErrorReason = "arguments_not_shown"
	ErrorReasonAuditDbUnavailable        ErrorReason = "audit_db_unavailable"
	ErrorReasonAuditKeysInvalid          ErrorReason = "audit_keys_invalid"
	ErrorReasonAuditSealed               ErrorReason = "audit_sealed"
	ErrorReasonAuditSeqConflict          ErrorReason = "audit_seq_conflict"
	ErrorReasonAuditSeqGap               ErrorReason = "audit_seq_gap"
	ErrorReasonAuditUnavailable          ErrorReason = "audit_unavailable"
	ErrorReasonBacktestTooLarge          ErrorReason = "backtest_too_large"
	ErrorReasonBadPageToken              ErrorReason = "bad_page_token"
	ErrorReasonBadPayload                ErrorReason = "bad_payload"
	ErrorReasonBadSignature              ErrorReason = "bad_signature"
	ErrorReasonBatchTooLarge             ErrorReason = "batch_too_large"
	ErrorReasonBodyTooLarge              ErrorReason = "body_too_large"
	ErrorReasonBreakGlassAlreadyApproved ErrorReason = "break_glass_already_approved"
	ErrorReasonBreakGlassDisabled        ErrorReason = "break_glass_disabled"
	ErrorReasonBreakGlassNotPending      ErrorReason = "break_glass_not_pending"
	ErrorReasonBreakGlassRoleRequired    ErrorReason = "break_glass_role_required"
	ErrorReasonBreakGlassTTLTooLong      ErrorReason = "break_glass_ttl_too_long"
	ErrorReasonBudget                    ErrorReason = "budget"
	ErrorReasonCallbackURLNotAllowed     ErrorReason = "callback_url_not_allowed"
	ErrorReasonCancelled                 ErrorReason = "cancelled"
	ErrorReasonChannelNotConfigured      ErrorReason = "channel_not_configured"
	ErrorReasonCodecKeyUnknown           ErrorReason = "codec_key_unknown"
	ErrorReasonCodecNeedsAllTeams        ErrorReason = "codec_needs_all_teams"
	ErrorReasonCodecNotConfigured        ErrorReason = "codec_not_configured"
	ErrorReasonCodecNotEnabled           ErrorReason = "codec_not_enabled"
	ErrorReasonCodecPayloadInvalid       ErrorReason = "codec_payload_invalid"
	ErrorReasonConcurrency               ErrorReason = "concurrency"
	ErrorReasonConflict                  ErrorReason = "conflict"
	ErrorReasonContended                 ErrorReason = "contended"
	ErrorReasonContextDeltaRequired      ErrorReason = "context_delta_required"
	ErrorReasonContinuingAsNew           ErrorReason = "continuing_as_new"
	ErrorReasonCostRequired              ErrorReason = "cost_required"
	ErrorReasonCostTooLarge              ErrorReason = "cost_too_large"
	ErrorReasonCountersUnavailable       ErrorReason = "counters_unavailable"
	ErrorReasonCurrencyMismatch          ErrorReason = "currency_mismatch"
	ErrorReasonDecisionTimeout           ErrorReason = "decision_timeout"
	ErrorReasonDelegateToSelf            ErrorReason = "delegate_to_self"
	ErrorReasonDelegationChain           ErrorReason = "delegation_chain"
	ErrorReasonDelegationDisabled        ErrorReason = "delegation_disabled"
	ErrorReasonDelegationNotInEffect     ErrorReason = "delegation_not_in_effect"
	ErrorReasonDelegationTooLong         ErrorReason = "delegation_too_long"
	ErrorReasonDelegationWindow          ErrorReason = "delegation_window"
	ErrorReasonDelegationsUnavailable    ErrorReason = "delegations_unavailable"
	ErrorReasonDeputyAway                ErrorReason = "deputy_away"
	ErrorReasonDevIssuerDisabled         ErrorReason = "dev_issuer_disabled"
	ErrorReasonDevIssuerInProduction     ErrorReason = "dev_issuer_in_production"
	ErrorReasonDiscoveryMismatch         ErrorReason = "discovery_mismatch"
	ErrorReasonDuplicateInBatch          ErrorReason = "duplicate_in_batch"
	ErrorReasonEmptyBody                 ErrorReason = "empty_body"
	ErrorReasonError                     ErrorReason = "error"
	ErrorReasonEvidenceTooLarge          ErrorReason = "evidence_too_large"
	ErrorReasonExemptionAlreadyApproved  ErrorReason = "exemption_already_approved"
	ErrorReasonExemptionNotNarrower      ErrorReason = "exemption_not_narrower"
	ErrorReasonExpired                   ErrorReason = "expired"
	ErrorReasonFairness                  ErrorReason = "fairness"
	ErrorReasonFieldNotAFact             ErrorReason = "field_not_a_fact"
	ErrorReasonFieldTooLarge             ErrorReason = "field_too_large"
	ErrorReasonForbidden                 ErrorReason = "forbidden"
	ErrorReasonForeignWorkflow           ErrorReason = "foreign_workflow"
	ErrorReasonGrantExpired              ErrorReason = "grant_expired"
	ErrorReasonGrantNotActive            ErrorReason = "grant_not_active"
	ErrorReasonGrantNotYours             ErrorReason = "grant_not_yours"
	ErrorReasonGrantReused               ErrorReason = "grant_reused"
	ErrorReasonGrantStepMismatch         ErrorReason = "grant_step_mismatch"
	ErrorReasonHalted                    ErrorReason = "halted"
	ErrorReasonHaltsUnavailable          ErrorReason = "halts_unavailable"
	ErrorReasonHistoryArchiveMissing     ErrorReason = "history_archive_missing"
	ErrorReasonHistoryArchiveTampered    ErrorReason = "history_archive_tampered"
	ErrorReasonHistoryIncomplete         ErrorReason = "history_incomplete"
	ErrorReasonHistoryNotArchived        ErrorReason = "history_not_archived"
	ErrorReasonHistoryNotFound           ErrorReason = "history_not_found"
	ErrorReasonIDMismatch                ErrorReason = "id_mismatch"
	ErrorReasonIdempotencyKeyReused      ErrorReason = "idempotency_key_reused"
	ErrorReasonIllegalTransition         ErrorReason = "illegal_transition"
	ErrorReasonInconsistentSteps         ErrorReason = "inconsistent_steps"
	ErrorReasonInconsistentTiming        ErrorReason = "inconsistent_timing"
	ErrorReasonInternal                  ErrorReason = "internal"
	ErrorReasonInvalid                   ErrorReason = "invalid"
	ErrorReasonInvalidClients            ErrorReason = "invalid_clients"
	ErrorReasonInvalidCodec              ErrorReason = "invalid_codec"
	ErrorReasonInvalidCodecKey           ErrorReason = "invalid_codec_key"
	ErrorReasonInvalidCost               ErrorReason = "invalid_cost"
	ErrorReasonInvalidCurrency           ErrorReason = "invalid_currency"
	ErrorReasonInvalidDocument           ErrorReason = "invalid_document"
	ErrorReasonInvalidID                 ErrorReason = "invalid_id"
	ErrorReasonInvalidInput              ErrorReason = "invalid_input"
	ErrorReasonInvalidOwner              ErrorReason = "invalid_owner"
	ErrorReasonInvalidPermissions        ErrorReason = "invalid_permissions"
	ErrorReasonInvalidQuery              ErrorReason = "invalid_query"
	ErrorReasonInvalidRoleDirectory      ErrorReason = "invalid_role_directory"
	ErrorReasonInvalidSecretReference    ErrorReason = "invalid_secret_reference"
	ErrorReasonInvalidWindow             ErrorReason = "invalid_window"
	ErrorReasonJiraUnavailable           ErrorReason = "jira_unavailable"
	ErrorReasonJustificationRequired     ErrorReason = "justification_required"
	ErrorReasonJwksUnreachable           ErrorReason = "jwks_unreachable"
	ErrorReasonLiftAlreadyApproved       ErrorReason = "lift_already_approved"
	ErrorReasonLiftRoleRequired          ErrorReason = "lift_role_required"
	ErrorReasonLifterIsRaiser            ErrorReason = "lifter_is_raiser"
	ErrorReasonMalformed                 ErrorReason = "malformed"
	ErrorReasonMalformedJson             ErrorReason = "malformed_json"
	ErrorReasonMethodNotAllowed          ErrorReason = "method_not_allowed"
	ErrorReasonMissingClaim              ErrorReason = "missing_claim"
	ErrorReasonMissingKid                ErrorReason = "missing_kid"
	ErrorReasonMissingSubject            ErrorReason = "missing_subject"
	ErrorReasonMissingToken              ErrorReason = "missing_token"
	ErrorReasonNegativeCost              ErrorReason = "negative_cost"
	ErrorReasonNoCheckpointNote          ErrorReason = "no_checkpoint_note"
	ErrorReasonNoConsistencyProof        ErrorReason = "no_consistency_proof"
	ErrorReasonNoCore                    ErrorReason = "no_core"
	ErrorReasonNoDelegation              ErrorReason = "no_delegation"
	ErrorReasonNoEvidence                ErrorReason = "no_evidence"
	ErrorReasonNoGrant                   ErrorReason = "no_grant"
	ErrorReasonNoRole                    ErrorReason = "no_role"
	ErrorReasonNoRoute                   ErrorReason = "no_route"
	ErrorReasonNoTeams                   ErrorReason = "no_teams"
	ErrorReasonNotAGateway               ErrorReason = "not_a_gateway"
	ErrorReasonNotAHuman                 ErrorReason = "not_a_human"
	ErrorReasonNotAuthorized             ErrorReason = "not_authorized"
	ErrorReasonNotCanonicalJson          ErrorReason = "not_canonical_json"
	ErrorReasonNotFound                  ErrorReason = "not_found"
	ErrorReasonNotGoverned               ErrorReason = "not_governed"
	ErrorReasonNotGrantApprover          ErrorReason = "not_grant_approver"
	ErrorReasonNotHuman                  ErrorReason = "not_human"
	ErrorReasonNotIJson                  ErrorReason = "not_i_json"
	ErrorReasonNotRunning                ErrorReason = "not_running"
	ErrorReasonNotThisGateway            ErrorReason = "not_this_gateway"
	ErrorReasonNotWaiting                ErrorReason = "not_waiting"
	ErrorReasonNotYetCheckpointed        ErrorReason = "not_yet_checkpointed"
	ErrorReasonNotYetValid               ErrorReason = "not_yet_valid"
	ErrorReasonNotYourTeam               ErrorReason = "not_your_team"
	ErrorReasonPayloadSchema             ErrorReason = "payload_schema"
	ErrorReasonPayloadTooLarge           ErrorReason = "payload_too_large"
	ErrorReasonPending                   ErrorReason = "pending"
	ErrorReasonPendingForOtherPrincipal  ErrorReason = "pending_for_other_principal"
	ErrorReasonPermissionNotGranted      ErrorReason = "permission_not_granted"
	ErrorReasonPolicyHashMismatch        ErrorReason = "policy_hash_mismatch"
	ErrorReasonQueryFailed               ErrorReason = "query_failed"
	ErrorReasonRaiseRoleRequired         ErrorReason = "raise_role_required"
	ErrorReasonRateLimit                 ErrorReason = "rate_limit"
	ErrorReasonReadinessNeedsDatabase    ErrorReason = "readiness_needs_database"
	ErrorReasonReady                     ErrorReason = "ready"
	ErrorReasonRegistryUnavailable       ErrorReason = "registry_unavailable"
	ErrorReasonRejected                  ErrorReason = "rejected"
	ErrorReasonRelayUnavailable          ErrorReason = "relay_unavailable"
	ErrorReasonRoleNotAllowed            ErrorReason = "role_not_allowed"
	ErrorReasonRoleNotHeld               ErrorReason = "role_not_held"
	ErrorReasonScopeNotGranted           ErrorReason = "scope_not_granted"
	ErrorReasonSecretEnvNotSet           ErrorReason = "secret_env_not_set"
	ErrorReasonSecretFileNotFound        ErrorReason = "secret_file_not_found"
	ErrorReasonSecretNotFound            ErrorReason = "secret_not_found"
	ErrorReasonSelfApprovalNotAllowed    ErrorReason = "self_approval_not_allowed"
	ErrorReasonSeparationOfDuties        ErrorReason = "separation_of_duties"
	ErrorReasonShadowReportTooLarge      ErrorReason = "shadow_report_too_large"
	ErrorReasonStale                     ErrorReason = "stale"
	ErrorReasonStaleDelivery             ErrorReason = "stale_delivery"
	ErrorReasonStaleSignature            ErrorReason = "stale_signature"
	ErrorReasonStandingExceedsPolicy     ErrorReason = "standing_exceeds_policy"
	ErrorReasonStandingNeedsSoleApprover ErrorReason = "standing_needs_sole_approver"
	ErrorReasonStandingNotAllowed        ErrorReason = "standing_not_allowed"
	ErrorReasonStandingPatternWidens     ErrorReason = "standing_pattern_widens"
	ErrorReasonStandingRoleNotAllowed    ErrorReason = "standing_role_not_allowed"
	ErrorReasonStandingUnavailable       ErrorReason = "standing_unavailable"
	ErrorReasonStepIDRequired            ErrorReason = "step_id_required"
	ErrorReasonSuperseded                ErrorReason = "superseded"
	ErrorReasonTeamNotGranted            ErrorReason = "team_not_granted"
	ErrorReasonTemporalTimeout           ErrorReason = "temporal_timeout"
	ErrorReasonTemporalUnavailable       ErrorReason = "temporal_unavailable"
	ErrorReasonTerminal                  ErrorReason = "terminal"
	ErrorReasonTooDeep                   ErrorReason = "too_deep"
	ErrorReasonTooLarge                  ErrorReason = "too_large"
	ErrorReasonTooManyRequests           ErrorReason = "too_many_requests"
	ErrorReasonUnattested                ErrorReason = "unattested"
	ErrorReasonUnauthenticated           ErrorReason = "unauthenticated"
	ErrorReasonUnavailable               ErrorReason = "unavailable"
	ErrorReasonUnknownBreakGlass         ErrorReason = "unknown_break_glass"
	ErrorReasonUnknownHalt               ErrorReason = "unknown_halt"
	ErrorReasonUnknownInstance           ErrorReason = "unknown_instance"
	ErrorReasonUnknownIssue              ErrorReason = "unknown_issue"
	ErrorReasonUnknownKey                ErrorReason = "unknown_key"
	ErrorReasonUnknownPolicy             ErrorReason = "unknown_policy"
	ErrorReasonUnknownRequest            ErrorReason = "unknown_request"
	ErrorReasonUnknownStandingGrant      ErrorReason = "unknown_standing_grant"
	ErrorReasonUnknownStep               ErrorReason = "unknown_step"
	ErrorReasonUnknownTreeSize           ErrorReason = "unknown_tree_size"
	ErrorReasonUnknownUser               ErrorReason = "unknown_user"
	ErrorReasonUnknownVersion            ErrorReason = "unknown_version"
	ErrorReasonUnknownWorkflow           ErrorReason = "unknown_workflow"
	ErrorReasonUnreadableFile            ErrorReason = "unreadable_file"
	ErrorReasonUnsigned                  ErrorReason = "unsigned"
	ErrorReasonValidationFailed          ErrorReason = "validation_failed"
	ErrorReasonVaultDenied               ErrorReason = "vault_denied"
	ErrorReasonVaultNotConfigured        ErrorReason = "vault_not_configured"
	ErrorReasonVaultUnreachable          ErrorReason = "vault_unreachable"
	ErrorReasonVersionConflict           ErrorReason = "version_conflict"
	ErrorReasonVersionSuperseded         ErrorReason = "version_superseded"
	ErrorReasonWindowTooLarge            ErrorReason = "window_too_large"
	ErrorReasonWorkflowError             ErrorReason = "workflow_error"
	ErrorReasonWrongAudience             ErrorReason = "wrong_audience"
	ErrorReasonWrongIssuer               ErrorReason = "wrong_issuer"
)

// The facts a running step's policy reads, and the approvals to try.
type EvaluateRequest struct {
	Actors *Actors `json:"actors,omitempty"`
	// The step's arguments A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Arguments map[string]JsonValue `json:"arguments,omitempty"`
	// Free-form step context, as an agent sends it: never read by rules; its fields are listed in the explanation as ignored A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Context map[string]JsonValue `json:"context,omitempty"`
	// The owning team id
	Team *string `json:"team,omitempty"`
	// The instance's trigger context (fixed at start) A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Trigger map[string]JsonValue `json:"trigger,omitempty"`
	// Default: the latest version
	Version *int64 `json:"version,omitempty"`
	// The workflow id
	Workflow *string `json:"workflow,omitempty"`
}

type EventRequest struct {
	ArgsDigest *string    `json:"args_digest,omitempty"`
	Cost       *CostInput `json:"cost,omitempty"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Detail         map[string]JsonValue `json:"detail,omitempty"`
	GrantID        *string              `json:"grant_id,omitempty"`
	IdempotencyKey *string              `json:"idempotency_key,omitempty"`
	Kind           AgentEventKind       `json:"kind"`
	StepID         *string              `json:"step_id,omitempty"`
}

type EventView struct {
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Actor    map[string]JsonValue `json:"actor"`
	At       string               `json:"at"`
	Body     string               `json:"body"`
	Hash     string               `json:"hash"`
	LogIndex int64                `json:"log_index"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Payload  map[string]JsonValue `json:"payload"`
	PrevHash string               `json:"prev_hash"`
	Seq      int64                `json:"seq"`
	Snapshot map[string]JsonValue `json:"snapshot"`
	Type     string               `json:"type"`
}

// One human's approval of an exemption where the deployment lifts halts by a
// quorum: the part (`scope`) and the role they counted in. The exemption takes effect
// with the approval that makes the quorum for that part.
type ExemptionApproval struct {
	At     string    `json:"at"`
	Human  string    `json:"human"`
	Reason string    `json:"reason"`
	Role   string    `json:"role"`
	Scope  HaltScope `json:"scope"`
}

type FinishRequest struct {
	IdempotencyKey *string `json:"idempotency_key,omitempty"`
	Reason         *string `json:"reason,omitempty"`
}

// Authority to run one step once, with exactly the arguments whose digest it carries.
type Grant struct {
	ArgsDigest string `json:"args_digest"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Arguments map[string]JsonValue `json:"arguments"`
	ExpiresAt string               `json:"expires_at"`
	GrantID   string               `json:"grant_id"`
	Holder    *string              `json:"holder,omitempty"`
	RequestID *string              `json:"request_id"`
	StepID    string               `json:"step_id"`
}

// A halt as stored and listed: who raised it, when, why; and its lift, once lifted.
type Halt struct {
	ExemptionApprovals []ExemptionApproval `json:"exemption_approvals,omitempty"`
	Exemptions         []HaltExemption     `json:"exemptions,omitempty"`
	HaltID             string              `json:"halt_id"`
	LiftApprovals      []LiftApproval      `json:"lift_approvals,omitempty"`
	LiftByAnother      bool                `json:"lift_by_another,omitempty"`
	LiftReason         *string             `json:"lift_reason,omitempty"`
	LiftedAt           *string             `json:"lifted_at,omitempty"`
	LiftedBy           *string             `json:"lifted_by,omitempty"`
	RaisedAt           string              `json:"raised_at"`
	RaisedBy           string              `json:"raised_by"`
	Reason             string              `json:"reason"`
	Scope              HaltScope           `json:"scope"`
}

type HaltExempt struct {
	// Why; audited
	Reason string `json:"reason"`
	// A narrower part of the halt's scope that runs again (e.g. one agent or workflow of a halted team)
	Scope HaltScope `json:"scope"`
}

// Staged recovery: a narrower scope inside a halt that runs again while the rest of
// the halt holds (one agent or workflow of a halted team, say). Its own act, audited.
type HaltExemption struct {
	At         string    `json:"at"`
	ExemptedBy string    `json:"exempted_by"`
	Reason     string    `json:"reason"`
	Scope      HaltScope `json:"scope"`
}

type HaltLift struct {
	// Why; audited
	Reason string `json:"reason"`
}

type HaltRaise struct {
	// Only someone other than the raiser may lift it
	LiftByAnother bool `json:"lift_by_another,omitempty"`
	// Why; audited and listed
	Reason string `json:"reason"`
	// One of {"team": T}, {"agent": A}, {"workflow": W, "version": V}, {"deployment": true}
	Scope HaltScope `json:"scope"`
}

// Exactly one of `team`, `agent`, `workflow` (with an optional `version`) or
// `deployment: true`.
type HaltScope struct {
	Agent      *string `json:"agent,omitempty"`
	Deployment *bool   `json:"deployment,omitempty"`
	Team       *string `json:"team,omitempty"`
	// Only with `workflow`
	Version  *int64  `json:"version,omitempty"`
	Workflow *string `json:"workflow,omitempty"`
}

type Health struct {
	Status string `json:"status"`
}

type HumanRequest struct {
	Action     string            `json:"action"`
	Approvals  map[string]string `json:"approvals,omitempty"`
	ArgsDigest string            `json:"args_digest"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Arguments    map[string]JsonValue `json:"arguments"`
	ContextDelta map[string]JsonValue `json:"context_delta,omitempty"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	ContextSnapshot             map[string]JsonValue `json:"context_snapshot"`
	ContextSnapshotRef          *string              `json:"context_snapshot_ref,omitempty"`
	CreatedAt                   string               `json:"created_at"`
	Deadline                    *string              `json:"deadline"`
	DecidedBy                   *string              `json:"decided_by,omitempty"`
	DecidedOnBehalfOf           *string              `json:"decided_on_behalf_of,omitempty"`
	DecidedVia                  *string              `json:"decided_via,omitempty"`
	DecisionID                  *string              `json:"decision_id,omitempty"`
	Deputies                    map[string]string    `json:"deputies,omitempty"`
	ExcludedApprovers           []string             `json:"excluded_approvers,omitempty"`
	Grant                       *Grant               `json:"grant,omitempty"`
	GrantHolder                 *string              `json:"grant_holder,omitempty"`
	Materiality                 Materiality          `json:"materiality"`
	Quorum                      string               `json:"quorum,omitempty"`
	RequestID                   string               `json:"request_id"`
	RequestedBy                 string               `json:"requested_by,omitempty"`
	RequiredApprovers           []string             `json:"required_approvers"`
	ResolvedAt                  *string              `json:"resolved_at,omitempty"`
	SelfApproval                bool                 `json:"self_approval,omitempty"`
	SeparationOfDutiesWaivedFor []string             `json:"separation_of_duties_waived_for,omitempty"`
	SLADeadline                 *string              `json:"sla_deadline,omitempty"`
	Status                      RequestStatus        `json:"status,omitempty"`
	StepID                      string               `json:"step_id"`
	StillNeeded                 []string             `json:"still_needed,omitempty"`
	SupersededBy                *string              `json:"superseded_by,omitempty"`
	SupersededWhy               *string              `json:"superseded_why,omitempty"`
	Tier                        int64                `json:"tier,omitempty"`
}

// One open request, with what an approver needs to judge its urgency and act on it.
type InboxItem struct {
	Action     string `json:"action"`
	Approvals  int64  `json:"approvals"`
	ArgsDigest string `json:"args_digest"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Arguments         map[string]JsonValue `json:"arguments"`
	CreatedAt         string               `json:"created_at"`
	Deadline          *string              `json:"deadline"`
	DecidableAs       []string             `json:"decidable_as"`
	DeputyFor         []string             `json:"deputy_for,omitempty"`
	InstanceID        string               `json:"instance_id"`
	Materiality       Materiality          `json:"materiality"`
	OwningTeamID      *string              `json:"owning_team_id"`
	Quorum            string               `json:"quorum"`
	RequestID         string               `json:"request_id"`
	RequiredApprovers []string             `json:"required_approvers"`
	SLADeadline       *string              `json:"sla_deadline"`
	StepID            string               `json:"step_id"`
	StillNeeded       []string             `json:"still_needed"`
	WorkflowID        *string              `json:"workflow_id"`
}

type InboxPage struct {
	ClosedOutside []ClosedRequest `json:"closed_outside,omitempty"`
	Items         []InboxItem     `json:"items"`
	NextPageToken *string         `json:"next_page_token,omitempty"`
	Truncated     bool            `json:"truncated"`
}

type InclusionProofView struct {
	Checkpoint *Checkpoint `json:"checkpoint"`
	InstanceID string      `json:"instance_id"`
	LeafHash   string      `json:"leaf_hash"`
	LogIndex   int64       `json:"log_index"`
	Proof      []string    `json:"proof"`
	Root       string      `json:"root"`
	Seq        int64       `json:"seq"`
	TreeSize   int64       `json:"tree_size"`
}

type InstancePage struct {
	Items         []InstanceSummary `json:"items"`
	NextPageToken *string           `json:"next_page_token"`
}

type InstanceSummary struct {
	Closed        bool    `json:"closed"`
	ClosedOutside *string `json:"closed_outside,omitempty"`
	InstanceID    string  `json:"instance_id"`
	Materiality   *string `json:"materiality"`
	OwningTeamID  *string `json:"owning_team_id"`
	StartedAt     *string `json:"started_at"`
	State         *State  `json:"state"`
	Summary       *string `json:"summary"`
	WorkflowID    *string `json:"workflow_id"`
}

// Everything the instance API shows. Readiness is not here: it is derived, never state.
type InstanceView struct {
	AuditEvents    int64          `json:"audit_events,omitempty"`
	AuditHead      *string        `json:"audit_head,omitempty"`
	ClosedOutside  *ClosedOutside `json:"closed_outside,omitempty"`
	Cost           Cost           `json:"cost"`
	CreatedAt      string         `json:"created_at"`
	Decisions      []Decision     `json:"decisions"`
	InstanceID     string         `json:"instance_id"`
	OwningTeamID   string         `json:"owning_team_id"`
	PendingRequest *HumanRequest  `json:"pending_request"`
	Requests       []HumanRequest `json:"requests"`
	// Readiness (reference §3.4): derived on every read, never stored or audited.
	Runnable     bool               `json:"runnable"`
	StartedBy    Actor              `json:"started_by"`
	State        State              `json:"state"`
	TemplateHash string             `json:"template_hash"`
	Transitions  []TransitionRecord `json:"transitions"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	TriggerContext  map[string]JsonValue `json:"trigger_context"`
	UpdatedAt       string               `json:"updated_at"`
	WorkflowID      string               `json:"workflow_id"`
	WorkflowVersion int64                `json:"workflow_version"`
}

// Any JSON value the API accepts. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
type JsonValue = any

// Settings for one materiality level.
//
// Setting `approvers` or `tiers` here implies `requires_human_approval: true`: a policy
// that names approvers for a level never silently lets that level through.
type LevelSettings struct {
	Approvers                       any        `json:"approvers,omitempty"`
	GrantTTL                        *string    `json:"grant_ttl,omitempty"`
	JustificationRequiredForApprove *bool      `json:"justification_required_for_approve,omitempty"`
	OnTimeout                       *OnTimeout `json:"on_timeout,omitempty"`
	OverrideRequiresJustification   *bool      `json:"override_requires_justification,omitempty"`
	OverrideRequiresSecondSignoff   *bool      `json:"override_requires_second_signoff,omitempty"`
	OverrideRoles                   []string   `json:"override_roles,omitempty"`
	Reminders                       []string   `json:"reminders,omitempty"`
	RequiresHumanApproval           *bool      `json:"requires_human_approval,omitempty"`
	SLA                             *string    `json:"sla,omitempty"`
	Tiers                           []TierSpec `json:"tiers,omitempty"`
	Timeouts                        *Timeouts  `json:"timeouts,omitempty"`
}

// Settings for one materiality level.
//
// Setting `approvers` or `tiers` here implies `requires_human_approval: true`: a policy
// that names approvers for a level never silently lets that level through.
type LevelSettingsInput struct {
	Approvers                       any             `json:"approvers,omitempty"`
	GrantTTL                        any             `json:"grant_ttl,omitempty"`
	JustificationRequiredForApprove *bool           `json:"justification_required_for_approve,omitempty"`
	OnTimeout                       *OnTimeoutInput `json:"on_timeout,omitempty"`
	OverrideRequiresJustification   *bool           `json:"override_requires_justification,omitempty"`
	OverrideRequiresSecondSignoff   *bool           `json:"override_requires_second_signoff,omitempty"`
	OverrideRoles                   []string        `json:"override_roles,omitempty"`
	Reminders                       []any           `json:"reminders,omitempty"`
	RequiresHumanApproval           *bool           `json:"requires_human_approval,omitempty"`
	SLA                             any             `json:"sla,omitempty"`
	Tiers                           []TierSpecInput `json:"tiers,omitempty"`
	Timeouts                        *TimeoutsInput  `json:"timeouts,omitempty"`
}

// One human's approval of a lift that needs a quorum (`GANTRAL_HALTS__LIFT`): the
// role they counted in. The lift takes effect with the approval that makes the quorum.
type LiftApproval struct {
	At     string `json:"at"`
	Human  string `json:"human"`
	Reason string `json:"reason"`
	Role   string `json:"role"`
}

type Materiality string

const (
	MaterialityLow      Materiality = "LOW"
	MaterialityMedium   Materiality = "MEDIUM"
	MaterialityHigh     Materiality = "HIGH"
	MaterialityCritical Materiality = "CRITICAL"
)

type MaterialityInput string

const (
	MaterialityInputLow      MaterialityInput = "LOW"
	MaterialityInputMedium   MaterialityInput = "MEDIUM"
	MaterialityInputHigh     MaterialityInput = "HIGH"
	MaterialityInputCritical MaterialityInput = "CRITICAL"
)

// `level` applies when every condition in `when` holds. The highest matching level wins.
type MaterialityRule struct {
	Level Materiality `json:"level"`
	Name  *string     `json:"name,omitempty"`
	When  []Condition `json:"when"`
}

// `level` applies when every condition in `when` holds. The highest matching level wins.
type MaterialityRuleInput struct {
	Level MaterialityInput `json:"level"`
	Name  *string          `json:"name,omitempty"`
	When  []ConditionInput `json:"when"`
}

type MyDelegations struct {
	// The caller's delegation, now or upcoming
	Given *Delegation `json:"given"`
	// Delegations naming the caller as deputy
	Received []Delegation `json:"received"`
}

// `n` of the rules in `of` must be satisfied: at most as many as there are (said in
// the schema as one `if`/`then` per count, so both are bounded).
type NOf struct {
	N  int64 `json:"n"`
	Of []any `json:"of"`
}

// `n` of the rules in `of` must be satisfied: at most as many as there are (said in
// the schema as one `if`/`then` per count, so both are bounded).
type NOfInput struct {
	N  int64 `json:"n"`
	Of []any `json:"of"`
}

type NOfRule struct {
	NOf NOf `json:"n_of"`
}

type NOfRuleInput struct {
	NOf NOfInput `json:"n_of"`
}

// Where today's code parted from a run's history, as Temporal reported it.
type NonDeterminism struct {
	EventID   *int64  `json:"event_id"`
	EventType *string `json:"event_type"`
	Kind      string  `json:"kind"`
	Message   string  `json:"message"`
	RunID     string  `json:"run_id"`
}

// Where this policy's requests are sent, instead of the team's configured place.
type Notify struct {
	Slack SlackNotify `json:"slack"`
}

// Where this policy's requests are sent, instead of the team's configured place.
type NotifyInput struct {
	Slack SlackNotifyInput `json:"slack"`
}

type OnTimeout string

const (
	OnTimeoutExpire  OnTimeout = "EXPIRE"
	OnTimeoutReject  OnTimeout = "REJECT"
	OnTimeoutApprove OnTimeout = "APPROVE"
)

type OnTimeoutInput string

const (
	OnTimeoutInputExpire  OnTimeoutInput = "EXPIRE"
	OnTimeoutInputReject  OnTimeoutInput = "REJECT"
	OnTimeoutInputApprove OnTimeoutInput = "APPROVE"
)

type Op string

const (
	OpEq      Op = "eq"
	OpNe      Op = "ne"
	OpGt      Op = "gt"
	OpGe      Op = "ge"
	OpLt      Op = "lt"
	OpLe      Op = "le"
	OpIn      Op = "in"
	OpNotIn   Op = "not_in"
	OpExists  Op = "exists"
	OpMissing Op = "missing"
)

type OpInput string

const (
	OpInputEq      OpInput = "eq"
	OpInputNe      OpInput = "ne"
	OpInputGt      OpInput = "gt"
	OpInputGe      OpInput = "ge"
	OpInputLt      OpInput = "lt"
	OpInputLe      OpInput = "le"
	OpInputIn      OpInput = "in"
	OpInputNotIn   OpInput = "not_in"
	OpInputExists  OpInput = "exists"
	OpInputMissing OpInput = "missing"
)

type OverridePath struct {
	RequiresJustification bool     `json:"requires_justification"`
	RequiresSecondSignoff bool     `json:"requires_second_signoff"`
	Roles                 []string `json:"roles"`
}

type PinnedPolicy struct {
	ContentHash string  `json:"content_hash"`
	PolicyID    *string `json:"policy_id"`
	StepID      string  `json:"step_id"`
	Version     *int64  `json:"version"`
}

type PinnedVersions struct {
	Policies        []PinnedPolicy `json:"policies,omitempty"`
	TemplateHash    *string        `json:"template_hash"`
	WorkflowID      *string        `json:"workflow_id"`
	WorkflowVersion *int64         `json:"workflow_version"`
}

// One step's policy. A plain `approvers` list means every listed role must approve.
//
// Every materiality level that needs a human must find approvers (its own, else the
// policy's; the schema's `if`/`then` rules). Not expressible in the schema, refused at
// load naming the field: a reminder at or after its deadline, `n_of.n` above the number
// of rules, a tier without a timeout before the last, a materiality-rule field that is
// not a fact.
type Policy struct {
	Approvers                       any                      `json:"approvers,omitempty"`
	ByMateriality                   map[string]LevelSettings `json:"by_materiality,omitempty"`
	Channels                        *Channels                `json:"channels,omitempty"`
	Description                     string                   `json:"description,omitempty"`
	GrantTTL                        string                   `json:"grant_ttl,omitempty"`
	ID                              *string                  `json:"id,omitempty"`
	JustificationRequiredForApprove bool                     `json:"justification_required_for_approve,omitempty"`
	KeyFields                       []string                 `json:"key_fields,omitempty"`
	Kind                            string                   `json:"kind,omitempty"`
	Materiality                     Materiality              `json:"materiality,omitempty"`
	MaterialityRules                []MaterialityRule        `json:"materiality_rules,omitempty"`
	Notify                          *Notify                  `json:"notify,omitempty"`
	OnTimeout                       OnTimeout                `json:"on_timeout,omitempty"`
	OverrideRequiresJustification   bool                     `json:"override_requires_justification,omitempty"`
	OverrideRequiresSecondSignoff   bool                     `json:"override_requires_second_signoff,omitempty"`
	OverrideRoles                   []string                 `json:"override_roles,omitempty"`
	Reminders                       []string                 `json:"reminders,omitempty"`
	RequiresHumanApproval           bool                     `json:"requires_human_approval,omitempty"`
	SelfApproval                    *string                  `json:"self_approval,omitempty"`
	SeparationOfDuties              bool                     `json:"separation_of_duties,omitempty"`
	SLA                             *string                  `json:"sla,omitempty"`
	Standing                        *Standing                `json:"standing,omitempty"`
	Tiers                           []TierSpec               `json:"tiers,omitempty"`
	Timeouts                        *Timeouts                `json:"timeouts,omitempty"`
}

// A policy document. Its id is the path's `policy_id`: the document may repeat it as `id`; another value is 422 `id_mismatch`.
//
// One step's policy. A plain `approvers` list means every listed role must approve.
//
// Every materiality level that needs a human must find approvers (its own, else the
// policy's; the schema's `if`/`then` rules). Not expressible in the schema, refused at
// load naming the field: a reminder at or after its deadline, `n_of.n` above the number
// of rules, a tier without a timeout before the last, a materiality-rule field that is
// not a fact.
type PolicyDocumentInput struct {
	Approvers     any                           `json:"approvers,omitempty"`
	ByMateriality map[string]LevelSettingsInput `json:"by_materiality,omitempty"`
	Channels      *ChannelsInput                `json:"channels,omitempty"`
	Description   string                        `json:"description,omitempty"`
	// A duration: '90s', '30m', '2h', '1d', '1h30m' (units in that order, a later one below the next unit, fraction on the last only), or seconds; below 10000 days.
	GrantTTL                        any                    `json:"grant_ttl,omitempty"`
	JustificationRequiredForApprove bool                   `json:"justification_required_for_approve,omitempty"`
	KeyFields                       []string               `json:"key_fields,omitempty"`
	Kind                            string                 `json:"kind,omitempty"`
	Materiality                     MaterialityInput       `json:"materiality,omitempty"`
	MaterialityRules                []MaterialityRuleInput `json:"materiality_rules,omitempty"`
	Notify                          *NotifyInput           `json:"notify,omitempty"`
	OnTimeout                       OnTimeoutInput         `json:"on_timeout,omitempty"`
	OverrideRequiresJustification   bool                   `json:"override_requires_justification,omitempty"`
	OverrideRequiresSecondSignoff   bool                   `json:"override_requires_second_signoff,omitempty"`
	OverrideRoles                   []string               `json:"override_roles,omitempty"`
	Reminders                       []any                  `json:"reminders,omitempty"`
	RequiresHumanApproval           bool                   `json:"requires_human_approval,omitempty"`
	SelfApproval                    *string                `json:"self_approval,omitempty"`
	SeparationOfDuties              bool                   `json:"separation_of_duties,omitempty"`
	SLA                             any                    `json:"sla,omitempty"`
	Standing                        *StandingInput         `json:"standing,omitempty"`
	Tiers                           []TierSpecInput        `json:"tiers,omitempty"`
	Timeouts                        *TimeoutsInput         `json:"timeouts,omitempty"`
}

// One step's policy. A plain `approvers` list means every listed role must approve.
//
// Every materiality level that needs a human must find approvers (its own, else the
// policy's; the schema's `if`/`then` rules). Not expressible in the schema, refused at
// load naming the field: a reminder at or after its deadline, `n_of.n` above the number
// of rules, a tier without a timeout before the last, a materiality-rule field that is
// not a fact.
type PolicyInput struct {
	Approvers     any                           `json:"approvers,omitempty"`
	ByMateriality map[string]LevelSettingsInput `json:"by_materiality,omitempty"`
	Channels      *ChannelsInput                `json:"channels,omitempty"`
	Description   string                        `json:"description,omitempty"`
	// A duration: '90s', '30m', '2h', '1d', '1h30m' (units in that order, a later one below the next unit, fraction on the last only), or seconds; below 10000 days.
	GrantTTL                        any                    `json:"grant_ttl,omitempty"`
	ID                              *string                `json:"id,omitempty"`
	JustificationRequiredForApprove bool                   `json:"justification_required_for_approve,omitempty"`
	KeyFields                       []string               `json:"key_fields,omitempty"`
	Kind                            string                 `json:"kind,omitempty"`
	Materiality                     MaterialityInput       `json:"materiality,omitempty"`
	MaterialityRules                []MaterialityRuleInput `json:"materiality_rules,omitempty"`
	Notify                          *NotifyInput           `json:"notify,omitempty"`
	OnTimeout                       OnTimeoutInput         `json:"on_timeout,omitempty"`
	OverrideRequiresJustification   bool                   `json:"override_requires_justification,omitempty"`
	OverrideRequiresSecondSignoff   bool                   `json:"override_requires_second_signoff,omitempty"`
	OverrideRoles                   []string               `json:"override_roles,omitempty"`
	Reminders                       []any                  `json:"reminders,omitempty"`
	RequiresHumanApproval           bool                   `json:"requires_human_approval,omitempty"`
	SelfApproval                    *string                `json:"self_approval,omitempty"`
	SeparationOfDuties              bool                   `json:"separation_of_duties,omitempty"`
	SLA                             any                    `json:"sla,omitempty"`
	Standing                        *StandingInput         `json:"standing,omitempty"`
	Tiers                           []TierSpecInput        `json:"tiers,omitempty"`
	Timeouts                        *TimeoutsInput         `json:"timeouts,omitempty"`
}

// A stored policy: the latest version, or exactly `version` (and `content_hash`).
//
// A `content_hash` pins a version, so it needs `version` too.
type PolicyRef struct {
	ContentHash *string `json:"content_hash,omitempty"`
	ID          string  `json:"id"`
	Version     *int64  `json:"version,omitempty"`
}

// A stored policy: the latest version, or exactly `version` (and `content_hash`).
//
// A `content_hash` pins a version, so it needs `version` too.
type PolicyRefInput struct {
	ContentHash *string `json:"content_hash,omitempty"`
	ID          string  `json:"id"`
	Version     *int64  `json:"version,omitempty"`
}

type ProblemView struct {
	Code       string  `json:"code"`
	InstanceID *string `json:"instance_id,omitempty"`
	Message    string  `json:"message"`
	Seq        *int64  `json:"seq,omitempty"`
}

// Whether the instance can advance now, and every reason it cannot.
type ReadinessView struct {
	AgentID          string          `json:"agent_id"`
	BlockedBy        []string        `json:"blocked_by"`
	Capacity         CapacityVerdict `json:"capacity"`
	InstanceID       string          `json:"instance_id"`
	PendingRequestID *string         `json:"pending_request_id"`
	Runnable         bool            `json:"runnable"`
	State            State           `json:"state"`
	StepID           *string         `json:"step_id"`
	Team             string          `json:"team"`
	WorkflowID       string          `json:"workflow_id"`
}

type RefusalPage struct {
	Items         []RefusalView `json:"items"`
	NextPageToken *string       `json:"next_page_token"`
}

// One refused attempt (an ACCESS_REFUSED event of the access log), with what is needed
// to check it against the Merkle log: its chain, seq, log index and hash. An inclusion
// proof: `GET /v1/audit/instances/{chain_id}/events/{seq}/inclusion`.
type RefusalView struct {
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Actor      map[string]JsonValue `json:"actor"`
	At         string               `json:"at"`
	Attempted  string               `json:"attempted"`
	Body       string               `json:"body"`
	ChainID    string               `json:"chain_id"`
	Hash       string               `json:"hash"`
	InstanceID *string              `json:"instance_id"`
	LogIndex   int64                `json:"log_index"`
	Message    string               `json:"message"`
	Reason     string               `json:"reason"`
	RequestID  *string              `json:"request_id"`
	Seq        int64                `json:"seq"`
}

type ReplayReport struct {
	Additions       []Divergence     `json:"additions,omitempty"`
	Audit           AuditAnchor      `json:"audit"`
	CodeVersion     string           `json:"code_version"`
	DivergenceCount int64            `json:"divergence_count"`
	Divergences     []Divergence     `json:"divergences"`
	FirstDivergence *Divergence      `json:"first_divergence"`
	Format          string           `json:"format,omitempty"`
	GeneratedAt     string           `json:"generated_at"`
	HistorySha256   string           `json:"history_sha256"`
	HistorySource   string           `json:"history_source"`
	InstanceID      string           `json:"instance_id"`
	Match           bool             `json:"match"`
	Nondeterminism  []NonDeterminism `json:"nondeterminism"`
	Pinned          PinnedVersions   `json:"pinned"`
	Replay          ReplayStats      `json:"replay"`
	RunIds          []string         `json:"run_ids"`
	Signature       *Attestation     `json:"signature,omitempty"`
	Snapshots       []SnapshotRef    `json:"snapshots"`
	Timeline        Timeline         `json:"timeline"`
}

type ReplayStats struct {
	Deterministic   bool    `json:"deterministic"`
	EventsPerSecond float64 `json:"events_per_second"`
	HistoryEvents   int64   `json:"history_events"`
	Runs            int64   `json:"runs"`
	Seconds         float64 `json:"seconds"`
}

type RequestStatus string

const (
	RequestStatusPending    RequestStatus = "PENDING"
	RequestStatusApproved   RequestStatus = "APPROVED"
	RequestStatusRejected   RequestStatus = "REJECTED"
	RequestStatusOverridden RequestStatus = "OVERRIDDEN"
	RequestStatusExpired    RequestStatus = "EXPIRED"
	RequestStatusSuperseded RequestStatus = "SUPERSEDED"
	RequestStatusCancelled  RequestStatus = "CANCELLED"
)

type RoleRule struct {
	Role string `json:"role"`
}

type RoleRuleInput struct {
	Role string `json:"role"`
}

// A decision point where the shadow could not be evaluated (the enforced one decided).
type ShadowError struct {
	Error      string `json:"error"`
	InstanceID string `json:"instance_id"`
	Seq        int64  `json:"seq"`
	StepID     string `json:"step_id"`
}

type ShadowReport struct {
	Changed            int64            `json:"changed"`
	Counts             map[string]int64 `json:"counts,omitempty"`
	DecisionPoints     int64            `json:"decision_points"`
	ErrorExamples      []ShadowError    `json:"error_examples,omitempty"`
	Errors             int64            `json:"errors"`
	Evaluated          int64            `json:"evaluated"`
	Examples           []Change         `json:"examples,omitempty"`
	Flips              map[string]int64 `json:"flips,omitempty"`
	Instances          int64            `json:"instances"`
	MaterialityChanges map[string]int64 `json:"materiality_changes,omitempty"`
	PolicyID           string           `json:"policy_id"`
	Since              string           `json:"since"`
	Unchanged          int64            `json:"unchanged"`
	Until              string           `json:"until"`
	Versions           []int64          `json:"versions,omitempty"`
}

// How this policy's requests may be decided from a Slack message.
type SlackChannel struct {
	ApproveTruncated *bool `json:"approve_truncated,omitempty"`
}

// How this policy's requests may be decided from a Slack message.
type SlackChannelInput struct {
	ApproveTruncated *bool `json:"approve_truncated,omitempty"`
}

// A Slack channel id (C..., or G... for an older private channel); not a #name,
// which can change.
type SlackNotify struct {
	Channel string `json:"channel"`
}

// A Slack channel id (C..., or G... for an older private channel); not a #name,
// which can change.
type SlackNotifyInput struct {
	Channel string `json:"channel"`
}

type SnapshotRef struct {
	Key    string `json:"key"`
	Seq    int64  `json:"seq"`
	Sha256 string `json:"sha256"`
}

// What an approver may grant standing on this step (issue 24): at most `max_ttl`
// long, `max_uses` uses, given only by a human approving in one of `roles`. Absent:
// no standing grant; never at CRITICAL materiality.
type Standing struct {
	MaxTTL  string   `json:"max_ttl"`
	MaxUses int64    `json:"max_uses"`
	Roles   []string `json:"roles"`
}

// What an approver asks for with an APPROVE: the pattern, how long, how many uses,
// and whom it serves (the requesting agent, or every agent of the owning team).
type StandingAsk struct {
	MaxUses int64                      `json:"max_uses"`
	Pattern map[string]ArgumentPattern `json:"pattern"`
	Serves  string                     `json:"serves,omitempty"`
	// A duration: '90s', '30m', '2h', '1d', '1h30m' (units in that order, a later one below the next unit, fraction on the last only), or seconds; below 10000 days.
	TTL any `json:"ttl"`
}

// A standing grant as recorded (`STANDING_GRANT_GIVEN`), stored and listed.
type StandingGrant struct {
	Action       string                     `json:"action"`
	Agent        *string                    `json:"agent"`
	Approver     string                     `json:"approver"`
	ApproverRole string                     `json:"approver_role"`
	ExpiresAt    string                     `json:"expires_at"`
	GivenAt      string                     `json:"given_at"`
	InstanceID   string                     `json:"instance_id"`
	Materiality  Materiality                `json:"materiality"`
	MaxUses      int64                      `json:"max_uses"`
	Pattern      map[string]ArgumentPattern `json:"pattern"`
	RequestID    string                     `json:"request_id"`
	RevokeReason *string                    `json:"revoke_reason,omitempty"`
	RevokedAt    *string                    `json:"revoked_at,omitempty"`
	RevokedBy    *string                    `json:"revoked_by,omitempty"`
	StandingID   string                     `json:"standing_id"`
	StepID       string                     `json:"step_id"`
	Team         string                     `json:"team"`
	Uses         int64                      `json:"uses,omitempty"`
	WorkflowID   string                     `json:"workflow_id"`
}

// What an approver may grant standing on this step (issue 24): at most `max_ttl`
// long, `max_uses` uses, given only by a human approving in one of `roles`. Absent:
// no standing grant; never at CRITICAL materiality.
type StandingInput struct {
	// A duration: '90s', '30m', '2h', '1d', '1h30m' (units in that order, a later one below the next unit, fraction on the last only), or seconds; below 10000 days.
	MaxTTL  any      `json:"max_ttl"`
	MaxUses int64    `json:"max_uses"`
	Roles   []string `json:"roles"`
}

type StandingRevoke struct {
	// Why; audited
	Reason string `json:"reason"`
}

type StartInstanceRequest struct {
	// https:// (http:// only to a loopback address or localhost), no user or password; the same rule applies to trigger_context['gantral:callback_url'].
	CallbackURL    *string `json:"callback_url,omitempty"`
	IdempotencyKey *string `json:"idempotency_key,omitempty"`
	OwningTeamID   string  `json:"owning_team_id"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	TriggerContext  map[string]JsonValue `json:"trigger_context,omitempty"`
	WorkflowID      string               `json:"workflow_id"`
	WorkflowVersion *int64               `json:"workflow_version,omitempty"`
}

type Started struct {
	Created      bool   `json:"created"`
	InstanceID   string `json:"instance_id"`
	OwningTeamID string `json:"owning_team_id"`
	WorkflowID   string `json:"workflow_id"`
}

type State string

const (
	StateCreated         State = "CREATED"
	StateRunning         State = "RUNNING"
	StateWaitingForHuman State = "WAITING_FOR_HUMAN"
	StateApproved        State = "APPROVED"
	StateRejected        State = "REJECTED"
	StateOverridden      State = "OVERRIDDEN"
	StateExpired         State = "EXPIRED"
	StateResumed         State = "RESUMED"
	StateCompleted       State = "COMPLETED"
	StateTerminated      State = "TERMINATED"
)

// One step. Its policy is inlined (`policy`) or stored (`policy_ref`), not both; both
// only in the pinned form, where `policy` is exactly the version `policy_ref` names and
// its content hash is `policy_ref.content_hash` (refused otherwise, 422 naming
// `steps[i]`; the hash is not expressible in the schema).
type StepDefinition struct {
	DependsOn   []string   `json:"depends_on,omitempty"`
	Description string     `json:"description,omitempty"`
	Governed    bool       `json:"governed,omitempty"`
	ID          string     `json:"id"`
	Policy      *Policy    `json:"policy,omitempty"`
	PolicyRef   *PolicyRef `json:"policy_ref,omitempty"`
	Shadow      *PolicyRef `json:"shadow,omitempty"`
}

// One step. Its policy is inlined (`policy`) or stored (`policy_ref`), not both; both
// only in the pinned form, where `policy` is exactly the version `policy_ref` names and
// its content hash is `policy_ref.content_hash` (refused otherwise, 422 naming
// `steps[i]`; the hash is not expressible in the schema).
type StepDefinitionInput struct {
	DependsOn   []string        `json:"depends_on,omitempty"`
	Description string          `json:"description,omitempty"`
	Governed    bool            `json:"governed,omitempty"`
	ID          string          `json:"id"`
	Policy      *PolicyInput    `json:"policy,omitempty"`
	PolicyRef   *PolicyRefInput `json:"policy_ref,omitempty"`
	Shadow      *PolicyRefInput `json:"shadow,omitempty"`
}

type StoredPolicy struct {
	ContentHash string  `json:"content_hash"`
	CreatedAt   string  `json:"created_at"`
	Policy      Policy  `json:"policy"`
	PolicyID    string  `json:"policy_id"`
	Source      *string `json:"source,omitempty"`
	Version     int64   `json:"version"`
}

type StoredTemplate struct {
	ContentHash string           `json:"content_hash"`
	CreatedAt   string           `json:"created_at"`
	Source      *string          `json:"source,omitempty"`
	Template    WorkflowTemplate `json:"template"`
	Version     int64            `json:"version"`
	WorkflowID  string           `json:"workflow_id"`
}

// Whether instances may start from one template version, and who decided it.
type TemplateActivation struct {
	Justification *string `json:"justification,omitempty"`
	KeptActive    bool    `json:"kept_active"`
	LatestVersion int64   `json:"latest_version"`
	SetAt         *string `json:"set_at,omitempty"`
	SetBy         *string `json:"set_by,omitempty"`
	Startable     bool    `json:"startable"`
	Version       int64   `json:"version"`
	WorkflowID    string  `json:"workflow_id"`
}

type TierPath struct {
	Approvers      string   `json:"approvers"`
	Counted        []string `json:"counted"`
	DeadlineAfter  *string  `json:"deadline_after"`
	MinHumans      int64    `json:"min_humans"`
	Name           *string  `json:"name"`
	RemindersAfter []string `json:"reminders_after"`
	Roles          []string `json:"roles"`
	Satisfied      bool     `json:"satisfied"`
	StillNeeded    []string `json:"still_needed"`
	Tier           int64    `json:"tier"`
	Timeout        *string  `json:"timeout"`
}

// One explicit rung of an escalation chain. No `approvers` means the policy's (an
// empty list is refused). Reminders need the tier's `timeout` and come before it.
type TierSpec struct {
	Approvers any      `json:"approvers,omitempty"`
	Name      *string  `json:"name,omitempty"`
	Reminders []string `json:"reminders,omitempty"`
	Timeout   *string  `json:"timeout,omitempty"`
}

// One explicit rung of an escalation chain. No `approvers` means the policy's (an
// empty list is refused). Reminders need the tier's `timeout` and come before it.
type TierSpecInput struct {
	Approvers any     `json:"approvers,omitempty"`
	Name      *string `json:"name,omitempty"`
	Reminders []any   `json:"reminders,omitempty"`
	Timeout   any     `json:"timeout,omitempty"`
}

// What happened to one instance, section by section, each in audit order.
type Timeline struct {
	Agent       []TimelineEntry `json:"agent,omitempty"`
	Cost        *TimelineCost   `json:"cost,omitempty"`
	Costs       []TimelineEntry `json:"costs,omitempty"`
	Decisions   []TimelineEntry `json:"decisions,omitempty"`
	Escalations []TimelineEntry `json:"escalations,omitempty"`
	Evaluations []TimelineEntry `json:"evaluations,omitempty"`
	Events      int64           `json:"events,omitempty"`
	FinalState  *string         `json:"final_state,omitempty"`
	Grants      []TimelineEntry `json:"grants,omitempty"`
	InstanceID  string          `json:"instance_id"`
	Requests    []TimelineEntry `json:"requests,omitempty"`
	Sealed      bool            `json:"sealed,omitempty"`
	Started     *TimelineEntry  `json:"started,omitempty"`
	Transitions []TimelineEntry `json:"transitions,omitempty"`
}

type TimelineCost struct {
	Money           float64 `json:"money,omitempty"`
	Tokens          int64   `json:"tokens,omitempty"`
	WallTimeSeconds float64 `json:"wall_time_seconds,omitempty"`
}

type TimelineEntry struct {
	Actor string `json:"actor"`
	At    string `json:"at"`
	// A JSON object. I-JSON (RFC 7493): numbers finite and within ±(2^53-1) however written (`1e300` too), unique member names, no lone surrogates; nested at most 32 levels and at most 65536 bytes of JSON per field. Anything else is 422 `not_i_json`, `too_deep` or `field_too_large`, naming the field.
	Payload        map[string]JsonValue `json:"payload"`
	Seq            int64                `json:"seq"`
	SnapshotSha256 *string              `json:"snapshot_sha256,omitempty"`
	Type           string               `json:"type"`
}

type Timeouts struct {
	Escalation *string `json:"escalation,omitempty"`
	Primary    *string `json:"primary,omitempty"`
}

type TimeoutsInput struct {
	Escalation any `json:"escalation,omitempty"`
	Primary    any `json:"primary,omitempty"`
}

type TransitionRecord struct {
	Actor     Actor   `json:"actor"`
	At        string  `json:"at"`
	Cause     string  `json:"cause"`
	FromState State   `json:"from_state"`
	RequestID *string `json:"request_id,omitempty"`
	Seq       int64   `json:"seq"`
	ToState   State   `json:"to_state"`
}

// What starts an instance, e.g. source `github`, event `pull_request.opened`,
// match `{repository: acme/payments}`; or source `manual`.
type Trigger struct {
	Description string         `json:"description,omitempty"`
	Event       *string        `json:"event,omitempty"`
	Match       map[string]any `json:"match,omitempty"`
	Source      string         `json:"source"`
}

// What starts an instance, e.g. source `github`, event `pull_request.opened`,
// match `{repository: acme/payments}`; or source `manual`.
type TriggerInput struct {
	Description string         `json:"description,omitempty"`
	Event       *string        `json:"event,omitempty"`
	Match       map[string]any `json:"match,omitempty"`
	Source      string         `json:"source"`
}

type TriggerResult struct {
	Delivery string    `json:"delivery"`
	Started  []Started `json:"started"`
}

type Verdict string

const (
	VerdictValid        Verdict = "VALID"
	VerdictInvalid      Verdict = "INVALID"
	VerdictInconclusive Verdict = "INCONCLUSIVE"
)

type VerifyView struct {
	Checkpoints       int64         `json:"checkpoints"`
	Events            int64         `json:"events"`
	InstanceID        string        `json:"instance_id"`
	OK                bool          `json:"ok"`
	Problems          []ProblemView `json:"problems"`
	SignaturesChecked bool          `json:"signatures_checked"`
	// VALID: every check ran and held. INVALID: something is broken. INCONCLUSIVE: nothing broken, but a check could not run (no public key configured).
	Verdict Verdict `json:"verdict"`
}

// A workflow template. Step ids are unique; each step's `depends_on` names other
// steps of the template, without a cycle (not expressible in the schema beyond a single
// step, which depends on nothing: refused naming the step).
type WorkflowTemplate struct {
	DefaultMateriality Materiality      `json:"default_materiality,omitempty"`
	Description        string           `json:"description,omitempty"`
	ID                 string           `json:"id"`
	Kind               string           `json:"kind,omitempty"`
	Steps              []StepDefinition `json:"steps"`
	Triggers           []Trigger        `json:"triggers,omitempty"`
	Version            int64            `json:"version,omitempty"`
}

// A workflow template document. Its id is the path's `workflow_id`: the document may repeat it as `id`; another value is 422 `id_mismatch`.
type WorkflowTemplateInput struct {
	DefaultMateriality MaterialityInput      `json:"default_materiality,omitempty"`
	Description        string                `json:"description,omitempty"`
	Kind               string                `json:"kind,omitempty"`
	Steps              []StepDefinitionInput `json:"steps"`
	Triggers           []TriggerInput        `json:"triggers,omitempty"`
	Version            int64                 `json:"version,omitempty"`
}

package gantral

// Fleet governance (issue 24), as in the Python SDK: halts (the kill switch) and
// break-glass, batch decisions, standing grants, deputies.

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// -- scopes ------------------------------------------------------------------------

// TeamScope, AgentScope, WorkflowScope and DeploymentScope name what a halt, an
// exemption or a break-glass covers (exactly one kind per scope).
func TeamScope(team string) HaltScope { return HaltScope{Team: &team} }

func AgentScope(agent string) HaltScope { return HaltScope{Agent: &agent} }

// WorkflowScope covers every version of the workflow when version is 0.
func WorkflowScope(workflow string, version int64) HaltScope {
	s := HaltScope{Workflow: &workflow}
	if version != 0 {
		s.Version = &version
	}
	return s
}

func DeploymentScope() HaltScope {
	every := true
	return HaltScope{Deployment: &every}
}

// String describes the scope as the server's messages do ("team payments").
func (s HaltScope) String() string {
	switch {
	case s.Deployment != nil && *s.Deployment:
		return "the whole deployment"
	case s.Team != nil:
		return "team " + *s.Team
	case s.Agent != nil:
		return "agent " + *s.Agent
	case s.Workflow != nil && s.Version != nil:
		return "workflow " + *s.Workflow + " v" + strconv.FormatInt(*s.Version, 10)
	case s.Workflow != nil:
		return "workflow " + *s.Workflow
	}
	return "no scope"
}

// once is a write without an idempotency key: never resent after a transport error
// (a second raise would be a second halt; a second lift, 409 already_lifted).
func once(method, path string, body any) call {
	return call{method: method, path: path, body: body}
}

func get(path string, params url.Values) call {
	return call{method: http.MethodGet, path: path, params: params, retrySafe: true}
}

// -- halts -------------------------------------------------------------------------

// RaiseHalt halts everything in req.Scope: new instances, Authorize calls and step
// starts in it are refused (*HaltedError) until the halt is lifted; requests already
// pending stay pending. LiftByAnother: only someone other than the raiser may lift it.
func (c *Client) RaiseHalt(ctx context.Context, req HaltRaise) (*Halt, error) {
	var out Halt
	return &out, c.run(ctx, once(http.MethodPost, "/v1/halts", req), &out)
}

// ListHalts lists the halts in effect (with includeLifted, every halt), oldest first,
// with who raised (and lifted) them.
func (c *Client) ListHalts(ctx context.Context, includeLifted bool) ([]Halt, error) {
	params := url.Values{}
	if includeLifted {
		params.Set("include_lifted", "true")
	}
	var out []Halt
	return out, c.run(ctx, get("/v1/halts", params), &out)
}

// GetHalt reads one halt.
func (c *Client) GetHalt(ctx context.Context, haltID string) (*Halt, error) {
	var out Halt
	return &out, c.run(ctx, get("/v1/halts/"+url.PathEscape(haltID), nil), &out)
}

// LiftHalt lifts a halt. Where the deployment lifts by a quorum, each call records one
// human's approval (LiftApprovals) and the halt holds until the quorum is met.
func (c *Client) LiftHalt(ctx context.Context, haltID, reason string) (*Halt, error) {
	var out Halt
	return &out, c.run(ctx, once(http.MethodPost, "/v1/halts/"+url.PathEscape(haltID)+":lift", HaltLift{Reason: reason}), &out)
}

// ExemptFromHalt is staged recovery: a narrower scope inside the halt runs again while
// the rest stays halted.
func (c *Client) ExemptFromHalt(ctx context.Context, haltID string, scope HaltScope, reason string) (*Halt, error) {
	var out Halt
	body := HaltExempt{Scope: scope, Reason: reason}
	return &out, c.run(ctx, once(http.MethodPost, "/v1/halts/"+url.PathEscape(haltID)+":exempt", body), &out)
}

// -- break-glass -------------------------------------------------------------------

// OpenBreakGlass asks for a break-glass: once its quorum approves, req.Scope passes
// policies' human requirement for req.TTL ("30m", or seconds), never extended.
func (c *Client) OpenBreakGlass(ctx context.Context, req BreakGlassOpen) (*BreakGlassView, error) {
	var out BreakGlassView
	return &out, c.run(ctx, once(http.MethodPost, "/v1/break-glass", req), &out)
}

// ApproveBreakGlass records one human's approval; the one completing the quorum opens it.
func (c *Client) ApproveBreakGlass(ctx context.Context, breakGlassID, reason string) (*BreakGlassView, error) {
	var out BreakGlassView
	path := "/v1/break-glass/" + url.PathEscape(breakGlassID) + ":approve"
	return &out, c.run(ctx, once(http.MethodPost, path, BreakGlassApprove{Reason: reason}), &out)
}

// ListBreakGlass lists break-glasses pending or in effect (with includeEnded, every one).
func (c *Client) ListBreakGlass(ctx context.Context, includeEnded bool) ([]BreakGlassView, error) {
	params := url.Values{}
	if includeEnded {
		params.Set("include_ended", "true")
	}
	var out []BreakGlassView
	return out, c.run(ctx, get("/v1/break-glass", params), &out)
}

// -- batch decisions ---------------------------------------------------------------

// BatchItemOn names one request of a batch as the human was shown it (as DecisionOn).
func BatchItemOn(instanceID string, shown *HumanRequest) BatchDecisionItem {
	return BatchDecisionItem{InstanceID: instanceID, RequestID: shown.RequestID, SeenArgsDigest: shown.ArgsDigest}
}

// BatchItemOnInbox names an inbox item of a batch as the human was shown it.
func BatchItemOnInbox(shown *InboxItem) BatchDecisionItem {
	return BatchDecisionItem{InstanceID: shown.InstanceID, RequestID: shown.RequestID, SeenArgsDigest: shown.ArgsDigest}
}

// DecideBatch APPROVEs or REJECTs several requests (at most 50), each exactly as if
// decided alone (its quorum, separation of duties, digest, staleness). The result lists
// every item's outcome in order (HTTP 200 when all were decided, 207 when any was
// refused); refusals are no error, the other requests were decided: BatchRefusals gives
// them typed. A batch refused as a whole is an error (InvalidInput batch_too_large,
// Conflict duplicate_in_batch, ...). A fresh IdempotencyKey is used when none is set.
func (c *Client) DecideBatch(ctx context.Context, req BatchDecisionRequest) (*BatchDecisionResult, error) {
	for _, item := range req.Items {
		if item.SeenArgsDigest == "" {
			return nil, ErrSeenArgsDigestRequired
		}
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = NewIdempotencyKey()
	}
	var out BatchDecisionResult
	return &out, c.run(ctx, post("/v1/decisions:batch", req), &out)
}

// BatchRefusals returns each refused item of a batch decision as the *APIError it
// would have answered alone (Conflict "stale", Forbidden "separation_of_duties", ...);
// its Details also name the request (instance_id, request_id). Empty when all were decided.
func BatchRefusals(result *BatchDecisionResult) []*APIError {
	var refused []*APIError
	for _, item := range result.Items {
		if item.Error == nil {
			continue
		}
		details := map[string]any{}
		for k, v := range item.Error.Details {
			details[k] = v
		}
		details["instance_id"] = item.InstanceID
		details["request_id"] = item.RequestID
		e := &APIError{Status: int(item.Status), Code: item.Error.Error, Reason: item.Error.Reason, Message: item.Error.Message, Details: details}
		e.Kind = kindOf(e.Code, e.Status)
		refused = append(refused, e)
	}
	return refused
}

// -- standing grants ---------------------------------------------------------------

// ListStandingGrants lists the standing grants of the teams the caller may read (team:
// one team's; usableOnly: only unrevoked, unexpired, unspent), oldest first.
func (c *Client) ListStandingGrants(ctx context.Context, team string, usableOnly bool) ([]StandingGrant, error) {
	params := url.Values{"usable_only": {strconv.FormatBool(usableOnly)}}
	if team != "" {
		params.Set("team", team)
	}
	var out []StandingGrant
	return out, c.run(ctx, get("/v1/standing-grants", params), &out)
}

// RevokeStandingGrant revokes a standing grant at once (its approver, or a supervisor).
func (c *Client) RevokeStandingGrant(ctx context.Context, standingID, reason string) (*StandingGrant, error) {
	var out StandingGrant
	path := "/v1/standing-grants/" + url.PathEscape(standingID) + ":revoke"
	return &out, c.run(ctx, once(http.MethodPost, path, StandingRevoke{Reason: reason}), &out)
}

// -- deputies ----------------------------------------------------------------------

// DelegateOptions refine Delegate.
type DelegateOptions struct {
	Roles    []string  // default: every role the caller's token holds
	StartsAt time.Time // default (zero): now
	Reason   string    // e.g. out of office
}

// Delegate hands the caller's decision roles to deputy until endsAt, replacing their
// current delegation. Roles delegated to the caller cannot be passed on (Forbidden,
// "delegation_chain"); a role not held is Forbidden "role_not_held".
func (c *Client) Delegate(ctx context.Context, deputy string, endsAt time.Time, opts DelegateOptions) (*Delegation, error) {
	body := DelegationSet{Deputy: deputy, EndsAt: endsAt.Format(time.RFC3339Nano), Roles: opts.Roles}
	if !opts.StartsAt.IsZero() {
		starts := opts.StartsAt.Format(time.RFC3339Nano)
		body.StartsAt = &starts
	}
	if opts.Reason != "" {
		body.Reason = &opts.Reason
	}
	var out Delegation
	return &out, c.run(ctx, once(http.MethodPut, "/v1/delegations/me", body), &out)
}

// MyDelegations reads the delegation the caller gave (in effect or upcoming) and
// those naming them deputy.
func (c *Client) MyDelegations(ctx context.Context) (*MyDelegations, error) {
	var out MyDelegations
	return &out, c.run(ctx, get("/v1/delegations/me", nil), &out)
}

// EndDelegation ends the caller's delegation now (NotFound "no_delegation" if none).
func (c *Client) EndDelegation(ctx context.Context) (*Delegation, error) {
	var out Delegation
	return &out, c.run(ctx, once(http.MethodDelete, "/v1/delegations/me", nil), &out)
}

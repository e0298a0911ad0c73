// Package gantral is a thin Go client for the Gantral API, on the standard library.
//
// Every decision is the server's. A governed step adds one local check: it computes the
// RFC 8785 digest of the arguments it will run and refuses to start if the grant does
// not cover exactly those arguments.
package gantral

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// MaxServerWait is the longest long poll the API accepts (`?wait=`).
	MaxServerWait = 60 * time.Second
	// Resends is how often a retry-safe call is resent after a transport error.
	Resends      = 2
	waitSlack    = 10 * time.Second
	retryPause   = time.Second
	minPollDelay = 500 * time.Millisecond
)

// Client talks to the Gantral API. Create it with New.
type Client struct {
	BaseURL string
	Auth    Auth
	// HTTP is the client calls go through (default: one with Timeout per call).
	HTTP *http.Client
	// Timeout per call (default 30 s); long polls get their wait plus 10 s.
	Timeout time.Duration
	// PollWait is how long each long poll asks the server to hold (default 30 s, max 60 s).
	PollWait time.Duration
}

// New returns a client for the API at baseURL (e.g. http://127.0.0.1:8000).
func New(baseURL string, auth Auth) *Client {
	return &Client{
		BaseURL:  strings.TrimRight(baseURL, "/"),
		Auth:     auth,
		HTTP:     &http.Client{},
		Timeout:  30 * time.Second,
		PollWait: 30 * time.Second,
	}
}

// NewIdempotencyKey returns a fresh key: a resend of the same call (after a lost
// response) gets the first outcome and records nothing new.
func NewIdempotencyKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "sdk-" + hex.EncodeToString(b[:])
}

type call struct {
	method    string
	path      string
	body      any
	params    url.Values
	timeout   time.Duration
	retrySafe bool // reads, and writes carrying an idempotency key
}

func (c *Client) run(ctx context.Context, cl call, out any) error {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return err
		}
	}
	target := c.BaseURL + cl.path
	if len(cl.params) > 0 {
		target += "?" + cl.params.Encode()
	}
	attempts := 1
	if cl.retrySafe {
		attempts = Resends + 1
	}
	refreshed := false
	for attempt := 0; ; attempt++ {
		status, body, err := c.send(ctx, cl, target, payload, refreshed)
		if err != nil {
			var typed *APIError
			if errors.As(err, &typed) || ctx.Err() != nil || attempt+1 >= attempts {
				return err
			}
			time.Sleep(time.Duration(200<<attempt) * time.Millisecond)
			continue
		}
		if status == http.StatusUnauthorized && c.Auth != nil && c.Auth.Refreshable() && !refreshed {
			refreshed = true // revoked, or the clocks disagree: fetch a new token once
			attempt--
			continue
		}
		if status < 200 || status >= 300 {
			return errorFromResponse(status, body)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(body, out)
	}
}

func (c *Client) send(ctx context.Context, cl call, target string, payload []byte, refresh bool) (int, []byte, error) {
	timeout := c.Timeout
	if cl.timeout > 0 {
		timeout = cl.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var reader io.Reader
	if payload != nil {
		reader = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, reader)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Auth != nil {
		token, err := c.Auth.Token(ctx, refresh)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	op := cl.method + " " + cl.path
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, &TransportError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, &TransportError{Op: op, Err: err}
	}
	return resp.StatusCode, body, nil
}

func instancePath(id string, rest ...string) string {
	parts := append([]string{"/v1/instances", url.PathEscape(id)}, rest...)
	return strings.Join(parts, "/")
}

func post(path string, body any) call {
	return call{method: http.MethodPost, path: path, body: body, retrySafe: true}
}

// -- instances ---------------------------------------------------------------------

// StartInstance starts a governed instance; the same IdempotencyKey returns the same
// one (a fresh key is used when none is set).
func (c *Client) StartInstance(ctx context.Context, req StartInstanceRequest) (*InstanceView, error) {
	if req.IdempotencyKey == nil {
		key := NewIdempotencyKey()
		req.IdempotencyKey = &key
	}
	if req.TriggerContext == nil {
		req.TriggerContext = map[string]any{}
	}
	var out InstanceView
	return &out, c.run(ctx, post("/v1/instances", req), &out)
}

// GetInstance reads an instance.
func (c *Client) GetInstance(ctx context.Context, instanceID string) (*InstanceView, error) {
	var out InstanceView
	return &out, c.run(ctx, call{method: http.MethodGet, path: instancePath(instanceID), retrySafe: true}, &out)
}

// ListOptions filter ListInstances.
type ListOptions struct {
	State     State
	Team      string
	Workflow  string
	PageSize  int // default 50
	PageToken string
}

// ListInstances lists instances; pass NextPageToken back for the next page.
func (c *Client) ListInstances(ctx context.Context, opts ListOptions) (*InstancePage, error) {
	params := url.Values{}
	size := opts.PageSize
	if size == 0 {
		size = 50
	}
	params.Set("page_size", strconv.Itoa(size))
	for name, value := range map[string]string{"state": string(opts.State), "team": opts.Team, "workflow": opts.Workflow, "page_token": opts.PageToken} {
		if value != "" {
			params.Set(name, value)
		}
	}
	var out InstancePage
	return &out, c.run(ctx, call{method: http.MethodGet, path: "/v1/instances", params: params, retrySafe: true}, &out)
}

// Cancel, Complete and Fail end an instance; reason may be empty.
func (c *Client) Cancel(ctx context.Context, instanceID, reason string) (*InstanceView, error) {
	return c.finish(ctx, instanceID, "cancel", reason)
}

func (c *Client) Complete(ctx context.Context, instanceID, reason string) (*InstanceView, error) {
	return c.finish(ctx, instanceID, "complete", reason)
}

func (c *Client) Fail(ctx context.Context, instanceID, reason string) (*InstanceView, error) {
	return c.finish(ctx, instanceID, "fail", reason)
}

func (c *Client) finish(ctx context.Context, instanceID, verb, reason string) (*InstanceView, error) {
	key := NewIdempotencyKey()
	body := FinishRequest{IdempotencyKey: &key}
	if reason != "" {
		body.Reason = &reason
	}
	var out InstanceView
	return &out, c.run(ctx, post(instancePath(instanceID, verb), body), &out)
}

// -- agent protocol ----------------------------------------------------------------

// Authorize asks before a governed step. Prefer GovernedStep, which checks the grant.
func (c *Client) Authorize(ctx context.Context, instanceID, stepID string, req AuthorizeRequest) (*AuthorizeResult, error) {
	if req.IdempotencyKey == nil {
		key := NewIdempotencyKey()
		req.IdempotencyKey = &key
	}
	var out AuthorizeResult
	return &out, c.run(ctx, post(instancePath(instanceID, "steps", url.PathEscape(stepID), "authorize"), req), &out)
}

// GetRequest reads a human request; with wait > 0 (at most 60 s) the server holds the
// call until the request is decided.
func (c *Client) GetRequest(ctx context.Context, instanceID, requestID string, wait time.Duration) (*HumanRequest, error) {
	if wait > MaxServerWait {
		wait = MaxServerWait
	}
	cl := call{method: http.MethodGet, path: instancePath(instanceID, "requests", url.PathEscape(requestID)), retrySafe: true}
	if wait > 0 {
		cl.params = url.Values{"wait": {strconv.FormatFloat(wait.Seconds(), 'f', -1, 64)}}
		cl.timeout = wait + waitSlack
	}
	var out HumanRequest
	return &out, c.run(ctx, cl, &out)
}

// WaitForDecision long-polls until the request is decided and its outcome applied.
// It returns a *StepRefused with Reason "decision_timeout" when still pending after wait.
func (c *Client) WaitForDecision(ctx context.Context, instanceID, requestID string, wait time.Duration) (*HumanRequest, error) {
	deadline := time.Now().Add(wait)
	pollWait := c.PollWait
	if pollWait <= 0 || pollWait > MaxServerWait {
		pollWait = MaxServerWait
	}
	for {
		poll := time.Until(deadline)
		if poll > pollWait {
			poll = pollWait
		}
		if poll < 0 {
			poll = 0
		}
		asked := time.Now()
		request, err := c.GetRequest(ctx, instanceID, requestID, poll)
		if err != nil {
			// A poll is a read: ride out a restarting API until our own deadline.
			var transport *TransportError
			var api *APIError
			retriable := errors.As(err, &transport) || (errors.As(err, &api) && api.Kind == Unavailable)
			if retriable && ctx.Err() == nil && time.Now().Add(retryPause).Before(deadline) {
				time.Sleep(retryPause)
				continue
			}
			return nil, err
		}
		if settled(request) {
			return request, nil
		}
		if !time.Now().Before(deadline) {
			return nil, &StepRefused{Reason: ReasonDecisionTimeout, Message: fmt.Sprintf("no decision on %s within %s", requestID, wait), Request: request}
		}
		if time.Since(asked) < minPollDelay {
			// Answered early (a proxy cutting long polls short?): do not hammer the API.
			time.Sleep(minPollDelay)
		}
	}
}

// Report sends a step event. A governed STEP_STARTED needs GrantID and ArgsDigest.
func (c *Client) Report(ctx context.Context, instanceID string, event EventRequest) (*AgentEventResult, error) {
	if event.IdempotencyKey == nil {
		key := NewIdempotencyKey()
		event.IdempotencyKey = &key
	}
	if event.Detail == nil {
		event.Detail = map[string]any{}
	}
	var out AgentEventResult
	return &out, c.run(ctx, post(instancePath(instanceID, "events"), event), &out)
}

// ReportCost adds to the instance's cost; the server keeps the totals.
func (c *Client) ReportCost(ctx context.Context, instanceID string, cost Cost) (*AgentEventResult, error) {
	// The request's schema is CostInput (the fields an agent may report); same fields.
	input := CostInput(cost)
	return c.Report(ctx, instanceID, EventRequest{Kind: AgentEventKindCost, Cost: &input})
}

// -- human decisions ---------------------------------------------------------------

// ErrSeenArgsDigestRequired: Decide was asked to decide without the arguments digest the
// human was shown. Nothing was sent.
var ErrSeenArgsDigestRequired = errors.New("gantral: a decision needs SeenArgsDigest, the " +
	"args_digest of the request as the human was shown it (see DecisionOn)")

// DecisionOn starts a decision on the request as the human was shown it: its id and
// args_digest. Set Justification, Role or ContextDelta on the result, then Decide.
func DecisionOn(shown *HumanRequest, decisionType DecisionType) DecisionRequest {
	return DecisionRequest{RequestID: shown.RequestID, SeenArgsDigest: shown.ArgsDigest, DecisionType: decisionType}
}

// DecisionOnItem is DecisionOn for an item of the approver inbox.
func DecisionOnItem(shown *InboxItem, decisionType DecisionType) DecisionRequest {
	return DecisionRequest{RequestID: shown.RequestID, SeenArgsDigest: shown.ArgsDigest, DecisionType: decisionType}
}

// Decide records APPROVE, REJECT or OVERRIDE of the request the human was shown, and only
// that: SeenArgsDigest is the args_digest they saw (DecisionOn fills it from the request
// displayed), and a request whose arguments changed since is refused (Conflict, reason
// "stale" or "superseded"). The SDK never reads the current digest for you, which would
// bind the decision to arguments nobody saw. A fresh IdempotencyKey is used when none is set.
func (c *Client) Decide(ctx context.Context, instanceID string, req DecisionRequest) (*DecisionResult, error) {
	if req.SeenArgsDigest == "" {
		return nil, ErrSeenArgsDigestRequired
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = NewIdempotencyKey()
	}
	var out DecisionResult
	return &out, c.run(ctx, post(instancePath(instanceID, "decisions"), req), &out)
}

// InboxOptions filter Inbox.
type InboxOptions struct {
	PendingForMe bool   // only requests the caller may decide now
	Team         string // one team's
	Limit        int    // requests per page at most (server default 200)
	PageToken    string // NextPageToken of the previous page
}

// Inbox lists open human requests, most urgent first; pass NextPageToken back for the next page.
func (c *Client) Inbox(ctx context.Context, opts InboxOptions) (*InboxPage, error) {
	params := url.Values{}
	if opts.PendingForMe {
		params.Set("pending_for", "me")
	}
	if opts.Team != "" {
		params.Set("team", opts.Team)
	}
	if opts.Limit > 0 {
		params.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.PageToken != "" {
		params.Set("page_token", opts.PageToken)
	}
	var out InboxPage
	return &out, c.run(ctx, call{method: http.MethodGet, path: "/v1/requests", params: params, retrySafe: true}, &out)
}

// -- audit -------------------------------------------------------------------------

// GetAuditLog reads an instance's audit events, with the exact hashed bytes of each.
func (c *Client) GetAuditLog(ctx context.Context, instanceID string) (*AuditTrailView, error) {
	var out AuditTrailView
	return &out, c.run(ctx, call{method: http.MethodGet, path: "/v1/audit/instances/" + url.PathEscape(instanceID), retrySafe: true}, &out)
}

// VerifyAudit asks the server for its full verification (chain, checkpoints,
// signatures). Check the chain yourself too with VerifyAuditChain.
func (c *Client) VerifyAudit(ctx context.Context, instanceID string) (*VerifyView, error) {
	var out VerifyView
	return &out, c.run(ctx, call{method: http.MethodGet, path: "/v1/audit/instances/" + url.PathEscape(instanceID) + "/verify", retrySafe: true}, &out)
}

package gantral

// Governed steps, as the Python SDK's governed_step: the server decides; the SDK makes
// sure the agent runs exactly what a grant covers, computing the digest of the
// arguments it will run itself and never taking one from the server.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// DefaultDecisionWait is how long a governed step waits for a human by default.
const DefaultDecisionWait = time.Hour

// Bounds on the server's retry_after hint, as in the Python SDK: never a busy loop, never
// an hour's nap (a raised budget or a freed slot should be noticed soon).
const (
	notReadyMin     = 50 * time.Millisecond
	notReadyMax     = 60 * time.Second
	notReadyDefault = time.Second
)

// notReadyPause is how long to wait before asking again when the answer is NOT_READY
// (ok false otherwise). Readiness is operational, not authority: the step waits and
// asks again by itself.
func notReadyPause(result *AuthorizeResult) (time.Duration, bool) {
	if result.Outcome != AuthorizeOutcomeNotReady {
		return 0, false
	}
	pause := notReadyDefault
	if hint := result.RetryAfter; hint != nil && !math.IsNaN(*hint) && !math.IsInf(*hint, 0) {
		pause = time.Duration(math.Min(*hint, notReadyMax.Seconds()) * float64(time.Second))
	}
	if pause < notReadyMin {
		pause = notReadyMin
	}
	if pause > notReadyMax {
		pause = notReadyMax
	}
	return pause, true
}

// Step is an authorized step, ready to run.
type Step struct {
	InstanceID string
	StepID     string
	Action     string         // the action the grant covers (the step id when none was given)
	Arguments  map[string]any // the arguments to run: the requested ones, or an override's edit
	ArgsDigest string         // their digest, computed locally; equal to the grant's
	Grant      Grant
	Outcome    string         // ALLOW, APPROVED or OVERRIDDEN
	Request    *HumanRequest  // the human request, when a human was asked
	Detail     map[string]any // sent with STEP_COMPLETED; fill it while the step runs
	Cost       *Cost          // reported with the step's end, if set
}

// Overridden reports whether a human changed the arguments (OVERRIDE).
func (s *Step) Overridden() bool { return s.Outcome == string(RequestStatusOverridden) }

// StepOptions describe a governed step.
type StepOptions struct {
	Action    string
	Arguments map[string]any
	Context   map[string]any
	// For a human, overall (default DefaultDecisionWait); also how long the step keeps
	// asking while the plane answers NOT_READY.
	Wait      time.Duration
	OnPending func(*HumanRequest)
	// Called on each NOT_READY answer with the pause before asking again.
	OnNotReady func(result *AuthorizeResult, pause time.Duration)
}

// ResumeToken lets a step stopped at PENDING be picked up later (a serverless function
// woken by the callback, say). It holds nothing secret.
type ResumeToken struct {
	V          int    `json:"v"`
	InstanceID string `json:"instance_id"`
	RequestID  string `json:"request_id"`
	StepID     string `json:"step_id"`
	Action     string `json:"action"`
	ArgsDigest string `json:"args_digest"` // of the requested arguments, checked on resume
}

// Encode returns the token as URL-safe text.
func (t ResumeToken) Encode() string {
	data, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(data)
}

// DecodeResumeToken parses a token made by any Gantral SDK.
func DecodeResumeToken(text string) (ResumeToken, error) {
	var t ResumeToken
	data, err := base64.RawURLEncoding.DecodeString(text)
	if err == nil {
		err = json.Unmarshal(data, &t)
	}
	if err != nil {
		return t, fmt.Errorf("resume token: %w", err)
	}
	if t.V != 1 || t.InstanceID == "" || t.RequestID == "" || t.StepID == "" || t.Action == "" || t.ArgsDigest == "" {
		return t, fmt.Errorf("resume token: incomplete or unknown version")
	}
	return t, nil
}

// settled: decided, and the outcome applied (an approval's grant is there to use).
func settled(r *HumanRequest) bool {
	if r.ResolvedAt != nil {
		return true
	}
	status := r.Status
	if status == "" || status == RequestStatusPending {
		return false
	}
	granting := status == RequestStatusApproved || status == RequestStatusOverridden
	return !granting || r.Grant != nil
}

func refused(r *HumanRequest) bool {
	switch r.Status {
	case RequestStatusRejected, RequestStatusExpired, RequestStatusCancelled, RequestStatusSuperseded:
		return true
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// RefusalMessage says who refused and why: "request r-1 for step deploy was REJECTED by
// alice (TECH_LEAD, via slack): not today". decision may be nil.
func RefusalMessage(r *HumanRequest, decision *Decision) string {
	head := fmt.Sprintf("request %s for step %s was %s", r.RequestID, r.StepID, r.Status)
	who, role, via := deref(r.DecidedBy), "", deref(r.DecidedVia)
	if decision != nil {
		who, role = decision.HumanActorID, decision.Role
		if via == "" {
			via = decision.Channel
		}
	}
	var how []string
	if role != "" {
		how = append(how, role)
	}
	if via != "" {
		how = append(how, "via "+via)
	}
	by := ""
	if who != "" {
		by = " by " + who
		if len(how) > 0 {
			by += " (" + strings.Join(how, ", ") + ")"
		}
	}
	var why string
	switch {
	case decision != nil && deref(decision.Justification) != "":
		why = *decision.Justification
	case r.Status == RequestStatusExpired:
		why = "nobody decided in time"
		if r.Deadline != nil {
			why = "nobody decided by " + *r.Deadline
		}
	case r.Status == RequestStatusSuperseded:
		why = "replaced by another request"
		if r.SupersededBy != nil {
			why = "replaced by " + *r.SupersededBy
		}
		if r.SupersededWhy != nil {
			why += " (" + *r.SupersededWhy + ")"
		}
	case r.Status == RequestStatusCancelled:
		why = "cancelled with its instance"
	default:
		why = "no justification given"
	}
	return head + by + ": " + why
}

func refusalFor(r *HumanRequest, decision *Decision) error {
	reason := map[RequestStatus]string{
		RequestStatusRejected:   ReasonRejected,
		RequestStatusExpired:    ReasonExpired,
		RequestStatusCancelled:  ReasonCancelled,
		RequestStatusSuperseded: ReasonCancelled,
	}[r.Status]
	if reason == "" {
		return nil
	}
	return &StepRefused{Reason: reason, Message: RefusalMessage(r, decision), Request: r, Decision: decision}
}

// refusingDecision reads the decision that refused request (who, role, why) from the
// instance, for the refusal's message; nil when there is none or it cannot be read (the
// refusal stands either way).
func (c *Client) refusingDecision(ctx context.Context, instanceID string, request *HumanRequest) *Decision {
	if request == nil || !refused(request) || request.Status == RequestStatusSuperseded {
		return nil
	}
	view, err := c.GetInstance(ctx, instanceID)
	if err != nil {
		return nil
	}
	var found *Decision
	for i := range view.Decisions {
		d := &view.Decisions[i]
		if d.RequestID != request.RequestID {
			continue
		}
		found = d
		if request.DecisionID != nil && d.DecisionID == *request.DecisionID {
			break
		}
	}
	return found
}

// bind picks the arguments to run and checks that the grant covers exactly them.
func bind(instanceID, stepID, action string, requested map[string]any, result *AuthorizeResult, request *HumanRequest, decision *Decision) (*Step, error) {
	var grant *Grant
	outcome := string(AuthorizeOutcomeAllow)
	args := requested
	if request == nil {
		if result != nil {
			grant = result.Grant
		}
	} else {
		if err := refusalFor(request, decision); err != nil {
			return nil, err
		}
		grant, outcome = request.Grant, string(request.Status)
		// Only an OVERRIDE changes what runs; an approval covers what was asked, as asked.
		if request.Status == RequestStatusOverridden && grant != nil {
			var err error
			if args, err = Plain(grant.Arguments); err != nil {
				return nil, err
			}
		}
	}
	if grant == nil {
		return nil, &StepRefused{Reason: ReasonNoGrant, Message: fmt.Sprintf("step %s was not granted (%s)", stepID, outcome), Request: request}
	}
	digest, err := checkGrant(grant, stepID, action, args, request)
	if err != nil {
		return nil, err
	}
	return &Step{
		InstanceID: instanceID, StepID: stepID, Action: action, Arguments: args, ArgsDigest: digest,
		Grant: *grant, Outcome: outcome, Request: request, Detail: map[string]any{},
	}, nil
}

// CheckGrant returns the digest of arguments, computed here, when grant covers exactly
// them for this step; otherwise a *StepRefused (args_digest_mismatch,
// grant_step_mismatch). It never trusts a digest sent by the server.
func CheckGrant(grant *Grant, stepID, action string, arguments map[string]any) (string, error) {
	return checkGrant(grant, stepID, action, arguments, nil)
}

func checkGrant(grant *Grant, stepID, action string, args map[string]any, request *HumanRequest) (string, error) {
	if grant.StepID != stepID {
		return "", &StepRefused{Reason: ReasonGrantStep, Message: fmt.Sprintf("grant %s is for step %s, not %s", grant.GrantID, grant.StepID, stepID), Request: request}
	}
	digest, err := ArgsDigest(action, args)
	if err != nil {
		return "", err
	}
	if digest != grant.ArgsDigest {
		return "", &StepRefused{
			Reason:  ReasonDigestMismatch,
			Message: fmt.Sprintf("grant %s covers %s, but the arguments to run hash to %s", grant.GrantID, grant.ArgsDigest, digest),
			Request: request,
		}
	}
	return digest, nil
}

// PrepareStep authorizes, waits for a human if needed, and checks the grant. Nothing
// is started. While the plane answers NOT_READY (capacity, rate, budget, fair share), it
// waits the server's retry_after and asks again, up to opts.Wait in all (then a
// *StepRefused with Reason "not_ready", Why and RetryAfter). A refusal is a *StepRefused.
func (c *Client) PrepareStep(ctx context.Context, instanceID, stepID string, opts StepOptions) (*Step, error) {
	step, pending, err := c.prepare(ctx, instanceID, stepID, opts, false)
	if err == nil && pending != nil {
		err = fmt.Errorf("internal: pending without stopAtPending")
	}
	return step, err
}

// PrepareStepOrPending is PrepareStep for code that cannot wait (serverless): when a
// human must decide, it returns at once with a ResumeToken for ResumeStep.
func (c *Client) PrepareStepOrPending(ctx context.Context, instanceID, stepID string, opts StepOptions) (*Step, *ResumeToken, error) {
	return c.prepare(ctx, instanceID, stepID, opts, true)
}

func (c *Client) prepare(ctx context.Context, instanceID, stepID string, opts StepOptions, stopAtPending bool) (*Step, *ResumeToken, error) {
	action := opts.Action
	if action == "" {
		action = stepID // the server's default, so both digests agree
	}
	requested, err := Plain(opts.Arguments)
	if err != nil {
		return nil, nil, err
	}
	context := opts.Context
	if context == nil {
		context = map[string]any{}
	}
	wait := opts.Wait
	if wait == 0 {
		wait = DefaultDecisionWait
	}
	deadline := time.Now().Add(wait)
	var result *AuthorizeResult
	for {
		result, err = c.Authorize(ctx, instanceID, stepID, AuthorizeRequest{Action: action, Arguments: requested, Context: context})
		if err != nil {
			return nil, nil, err
		}
		pause, notReady := notReadyPause(result)
		if !notReady {
			break
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			refusal := &StepRefused{Reason: ReasonNotReady, Why: deref(result.Reason)}
			hint := "?"
			if result.RetryAfter != nil {
				refusal.RetryAfter = time.Duration(math.Min(*result.RetryAfter, 86400) * float64(time.Second))
				hint = refusal.RetryAfter.String()
			}
			why := refusal.Why
			if why == "" {
				why = "no reason given"
			}
			refusal.Message = fmt.Sprintf("step %s still not ready after %s (%s; the server suggests asking again in %s)", stepID, wait, why, hint)
			return nil, nil, refusal
		}
		if opts.OnNotReady != nil {
			opts.OnNotReady(result, pause)
		}
		if pause > remaining {
			pause = remaining
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, nil, ctx.Err()
		case <-timer.C:
		}
	}
	var request *HumanRequest
	if result.Outcome != AuthorizeOutcomeAllow {
		if result.Request == nil {
			return nil, nil, &StepRefused{Reason: ReasonNoRequest, Message: "PENDING authorization without a request"}
		}
		request = result.Request
	}
	if request != nil && !settled(request) {
		if stopAtPending {
			digest, err := ArgsDigest(action, requested)
			if err != nil {
				return nil, nil, err
			}
			return nil, &ResumeToken{V: 1, InstanceID: instanceID, RequestID: request.RequestID, StepID: stepID, Action: action, ArgsDigest: digest}, nil
		}
		if opts.OnPending != nil {
			opts.OnPending(request)
		}
		if request, err = c.WaitForDecision(ctx, instanceID, request.RequestID, wait); err != nil {
			return nil, nil, err
		}
	}
	step, err := bind(instanceID, stepID, action, requested, result, request, c.refusingDecision(ctx, instanceID, request))
	return step, nil, err
}

// ResumeStep picks up a step stopped at PENDING; wait > 0 long-polls for the decision.
// The arguments to run are checked against the token's digest: arguments if given (the
// same you asked with), else the request's own (an approval keeps them as asked; an
// override replaces them, and its grant is checked instead). Still undecided: a
// *StepRefused with Reason "decision_timeout".
func (c *Client) ResumeStep(ctx context.Context, token ResumeToken, wait time.Duration, arguments map[string]any) (*Step, error) {
	var request *HumanRequest
	var err error
	if wait > 0 {
		request, err = c.WaitForDecision(ctx, token.InstanceID, token.RequestID, wait)
	} else {
		request, err = c.GetRequest(ctx, token.InstanceID, token.RequestID, 0)
	}
	if err != nil {
		return nil, err
	}
	if !settled(request) {
		return nil, &StepRefused{Reason: ReasonDecisionTimeout, Message: "request " + token.RequestID + " is still pending", Request: request}
	}
	source := arguments
	if source == nil {
		source = request.Arguments
	}
	requested, err := Plain(source)
	if err != nil {
		return nil, err
	}
	mismatch := request.StepID != token.StepID
	if arguments != nil || request.Status != RequestStatusOverridden {
		digest, err := ArgsDigest(token.Action, requested)
		if err != nil {
			return nil, err
		}
		mismatch = mismatch || digest != token.ArgsDigest
	}
	if mismatch {
		return nil, &StepRefused{Reason: ReasonResumeMismatch, Message: "request " + token.RequestID + " is not the one this token was issued for", Request: request}
	}
	return bind(token.InstanceID, token.StepID, token.Action, requested, nil, request, c.refusingDecision(ctx, token.InstanceID, request))
}

// RunStep reports STEP_STARTED with the grant and the local digest, runs fn, then
// reports step.Cost if set and STEP_COMPLETED, or STEP_FAILED (with the error's type,
// never its message) and returns fn's error.
func (c *Client) RunStep(ctx context.Context, step *Step, fn func(context.Context, *Step) error) error {
	grantID, digest, stepID := step.Grant.GrantID, step.ArgsDigest, step.StepID
	if _, err := c.Report(ctx, step.InstanceID, EventRequest{Kind: AgentEventKindStepStarted, StepID: &stepID, GrantID: &grantID, ArgsDigest: &digest}); err != nil {
		return err
	}
	if runErr := fn(ctx, step); runErr != nil {
		if step.Cost != nil {
			_, _ = c.ReportCost(ctx, step.InstanceID, *step.Cost)
		}
		// The step's own error matters more than a failed report.
		_, _ = c.Report(ctx, step.InstanceID, EventRequest{Kind: AgentEventKindStepFailed, StepID: &stepID, Detail: map[string]any{"error_type": reflect.TypeOf(runErr).String()}})
		return runErr
	}
	if step.Cost != nil {
		if _, err := c.ReportCost(ctx, step.InstanceID, *step.Cost); err != nil {
			return err
		}
	}
	_, err := c.Report(ctx, step.InstanceID, EventRequest{Kind: AgentEventKindStepCompleted, StepID: &stepID, Detail: step.Detail})
	return err
}

// GovernedStep runs fn with exactly the arguments a grant covers: authorize, wait for a
// human if needed, check the grant locally, then RunStep. A *StepRefused means fn never
// ran and nothing was reported as started.
func (c *Client) GovernedStep(ctx context.Context, instanceID, stepID string, opts StepOptions, fn func(context.Context, *Step) error) error {
	step, err := c.PrepareStep(ctx, instanceID, stepID, opts)
	if err != nil {
		return err
	}
	return c.RunStep(ctx, step, fn)
}

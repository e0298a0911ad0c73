// Command scenario is the cross-SDK contract scenario for the Go SDK
// (tests/integration/test_sdk_contract.py runs it, and the same scenario through the
// Python and TypeScript SDKs, against one real stack). It prints one JSON object of
// what happened; the Python test asserts on it and on the server.
//
// Env: GANTRAL_URL, GANTRAL_TOKEN_URL, GANTRAL_CLIENT_ID, GANTRAL_CLIENT_SECRET (the
// agent), GANTRAL_HUMAN_TOKEN (a tech lead), GANTRAL_AUDITOR_TOKEN; GANTRAL_CAPACITY_URL and GANTRAL_CAPACITY_WORKFLOW
// (an API of the same stack whose readiness rules allow one running `deploy` step);
// GANTRAL_CALLBACK_URL (where this process listens for the callback) and
// GANTRAL_WEBHOOK_SECRET (the callback worker's signing secret); GANTRAL_ADMIN_TOKEN (a
// platform admin, who halts and lifts the capacity workflow).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	gantral "github.com/gantral/gantral/sdk/go"
)

const action = "deploy.run"

var (
	ctx     = context.Background()
	args    = map[string]any{"service": "billing", "version": "2.4.1", "replicas": 3}
	agent   *gantral.Client
	human   *gantral.Client
	auditor *gantral.Client
)

func env(name string) string {
	value := os.Getenv(name)
	if value == "" {
		fail(fmt.Errorf("%s is not set", name))
	}
	return value
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scenario:", err)
	os.Exit(1)
}

func must[T any](value T, err error) T {
	if err != nil {
		fail(err)
	}
	return value
}

func start() string {
	inst := must(agent.StartInstance(ctx, gantral.StartInstanceRequest{
		WorkflowID: "deploy", OwningTeamID: "payments",
		TriggerContext: map[string]any{"ticket": "CHG-1042", "sdk": "go"},
	}))
	if err := agent.GovernedStep(ctx, inst.InstanceID, "plan", gantral.StepOptions{}, func(context.Context, *gantral.Step) error { return nil }); err != nil {
		fail(err)
	}
	return inst.InstanceID
}

// decide: the approver decides on the request as shown to them (its id and digest).
func decide(iid string, r *gantral.HumanRequest, kind gantral.DecisionType, justification string, delta map[string]any) {
	req := gantral.DecisionOn(r, kind)
	req.ContextDelta = delta
	if justification != "" {
		req.Justification = &justification
	}
	must(human.Decide(ctx, iid, req))
}

func sealedAudit(iid string) *gantral.AuditTrailView {
	for i := 0; i < 200; i++ {
		view := must(auditor.GetAuditLog(ctx, iid))
		if view.Sealed {
			return view
		}
		time.Sleep(100 * time.Millisecond)
	}
	fail(fmt.Errorf("audit of %s not sealed in time", iid))
	return nil
}

func refusal(err error) string {
	var refused *gantral.StepRefused
	if errors.As(err, &refused) {
		return refused.Reason
	}
	fail(err)
	return ""
}

func approved() map[string]any {
	iid := start()
	out := map[string]any{"instance_id": iid}
	err := agent.GovernedStep(ctx, iid, "deploy", gantral.StepOptions{
		Action: action, Arguments: args, Wait: time.Minute,
		Context: map[string]any{"env": "production", "change": "CHG-1042", "sdk": "go"},
		OnPending: func(r *gantral.HumanRequest) {
			// The approver finds it in their inbox (once the sink stored the request, just
			// after the agent's PENDING), then decides.
			out["inbox_listed"] = false
			for tries := 0; tries < 50 && out["inbox_listed"] == false; tries++ {
				if tries > 0 {
					time.Sleep(100 * time.Millisecond)
				}
				inbox := must(human.Inbox(ctx, gantral.InboxOptions{PendingForMe: true}))
				for _, item := range inbox.Items {
					if item.RequestID == r.RequestID {
						out["inbox_listed"] = true
					}
				}
			}
			decide(iid, r, gantral.DecisionTypeApprove, "", nil)
		},
	}, func(_ context.Context, step *gantral.Step) error {
		out["ran"], out["outcome"], out["args_digest"] = step.Arguments, step.Outcome, step.ArgsDigest
		out["grant_args_digest"] = step.Grant.ArgsDigest
		step.Cost = &gantral.Cost{Tokens: 1200, Money: 0.42, WallTimeSeconds: 3.5}
		step.Detail["rollout"] = "ok"
		return nil
	})
	if err != nil {
		fail(err)
	}
	final := must(agent.Complete(ctx, iid, "deployed"))
	audit := sealedAudit(iid)
	types := []string{}
	for _, e := range audit.Events {
		types = append(types, e.Type)
	}
	problems := []string{}
	for _, p := range gantral.VerifyAuditChain(audit) {
		problems = append(problems, p.Code)
	}
	verdict := must(auditor.VerifyAudit(ctx, iid))
	out["state"], out["cost_tokens"] = final.State, final.Cost.Tokens
	out["audit_types"], out["chain_problems"], out["server_verify_ok"] = types, problems, verdict.OK
	return out
}

func rejected() map[string]any {
	iid := start()
	ran := false
	err := agent.GovernedStep(ctx, iid, "deploy", gantral.StepOptions{
		Action: action, Arguments: args, Wait: time.Minute,
		OnPending: func(r *gantral.HumanRequest) { decide(iid, r, gantral.DecisionTypeReject, "not today", nil) },
	}, func(context.Context, *gantral.Step) error { ran = true; return nil })
	view := must(agent.GetInstance(ctx, iid))
	out := map[string]any{"instance_id": iid, "refusal": refusal(err), "ran": ran, "state": view.State}
	var refused *gantral.StepRefused
	if errors.As(err, &refused) {
		out["message"] = refused.Message
		if refused.Decision != nil {
			out["decided_by"] = refused.Decision.HumanActorID
			out["justification"] = refused.Decision.Justification
		}
	}
	return out
}

// notReady: another step holds the only slot. A short wait is refused with the server's
// reason; a long one waits the server's hint, asks again, and runs once the slot is free.
func notReady() map[string]any {
	capacity := gantral.New(env("GANTRAL_CAPACITY_URL"), gantral.NewClientCredentials(env("GANTRAL_TOKEN_URL"), env("GANTRAL_CLIENT_ID"), env("GANTRAL_CLIENT_SECRET")))
	begin := func() string {
		return must(capacity.StartInstance(ctx, gantral.StartInstanceRequest{
			WorkflowID: env("GANTRAL_CAPACITY_WORKFLOW"), OwningTeamID: "payments", TriggerContext: map[string]any{"sdk": "go", "phase": "not_ready"},
		})).InstanceID
	}
	holder, waiter := begin(), begin()
	var mu sync.Mutex
	order := []string{}
	note := func(what string) { mu.Lock(); order = append(order, what); mu.Unlock() }
	release := make(chan struct{})
	held := must(capacity.PrepareStep(ctx, holder, "plan", gantral.StepOptions{}))
	holding := make(chan error, 1)
	go func() {
		holding <- capacity.RunStep(ctx, held, func(context.Context, *gantral.Step) error {
			<-release
			note("holder_done")
			return nil
		})
	}()
	shortErr := capacity.GovernedStep(ctx, waiter, "plan", gantral.StepOptions{Wait: time.Second},
		func(context.Context, *gantral.Step) error { note("ran_too_early"); return nil })
	var short *gantral.StepRefused
	if !errors.As(shortErr, &short) {
		fail(fmt.Errorf("expected not_ready, got %v", shortErr))
	}
	answers := []map[string]any{}
	err := capacity.GovernedStep(ctx, waiter, "plan", gantral.StepOptions{
		Wait: time.Minute,
		OnNotReady: func(r *gantral.AuthorizeResult, pause time.Duration) {
			answers = append(answers, map[string]any{"reason": r.Reason, "retry_after": r.RetryAfter, "pause": pause.Seconds()})
			if len(answers) == 2 {
				close(release) // seen waiting twice: free the slot
			}
		},
	}, func(context.Context, *gantral.Step) error { note("waiter_ran"); return nil })
	if err != nil {
		fail(err)
	}
	if err := <-holding; err != nil {
		fail(err)
	}
	must(capacity.Complete(ctx, holder, ""))
	final := must(capacity.Complete(ctx, waiter, ""))
	return map[string]any{
		"instance_ids": []string{holder, waiter}, "short_reason": short.Reason, "short_why": short.Why,
		"short_message": short.Message, "answers": answers, "order": order, "state": final.State,
	}
}

type delivery struct {
	header http.Header
	body   []byte
}

// callback: a hosted agent stops at PENDING, is woken by the signed callback, verifies
// it and resumes.
func callback() map[string]any {
	target := must(url.Parse(env("GANTRAL_CALLBACK_URL")))
	secret := env("GANTRAL_WEBHOOK_SECRET")
	delivered := make(chan delivery, 1)
	listener := must(net.Listen("tcp", target.Host))
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
		if r.Method == http.MethodPost && r.URL.Path == target.Path {
			select {
			case delivered <- delivery{r.Header.Clone(), body}:
			default:
			}
		}
	})}
	go func() { _ = server.Serve(listener) }()
	defer server.Close()

	callbackURL := target.String()
	inst := must(agent.StartInstance(ctx, gantral.StartInstanceRequest{
		WorkflowID: "deploy", OwningTeamID: "payments", CallbackURL: &callbackURL,
		TriggerContext: map[string]any{"sdk": "go", "phase": "callback"},
	}))
	iid := inst.InstanceID
	if err := agent.GovernedStep(ctx, iid, "plan", gantral.StepOptions{}, func(context.Context, *gantral.Step) error { return nil }); err != nil {
		fail(err)
	}
	_, token, err := agent.PrepareStepOrPending(ctx, iid, "deploy", gantral.StepOptions{Action: action, Arguments: args})
	if err != nil || token == nil {
		fail(fmt.Errorf("expected PENDING: %v", err))
	}
	text := token.Encode()
	decide(iid, must(agent.GetRequest(ctx, iid, token.RequestID, 0)), gantral.DecisionTypeApprove, "", nil)
	var hook delivery
	select {
	case hook = <-delivered:
	case <-time.After(90 * time.Second):
		fail(errors.New("no callback within 90 s"))
	}
	forged := ""
	if _, err := gantral.VerifyWebhook(secret, hook.header, []byte(strings.Replace(string(hook.body), "APPROVED", "REJECTED", 1)), time.Now()); errors.Is(err, gantral.ErrWebhookInvalid) {
		forged = "webhook_invalid"
	}
	event := must(gantral.VerifyWebhook(secret, hook.header, hook.body, time.Now()))
	resumed := must(agent.ResumeStep(ctx, must(gantral.DecodeResumeToken(text)), 0, args))
	var ran map[string]any
	if err := agent.RunStep(ctx, resumed, func(_ context.Context, s *gantral.Step) error { ran = s.Arguments; return nil }); err != nil {
		fail(err)
	}
	final := must(agent.Complete(ctx, iid, ""))
	return map[string]any{
		"instance_id": iid, "request_id": token.RequestID, "webhook_id": hook.header.Get("webhook-id"),
		"event_type": event.Type, "event": event.Data, "forged": forged, "ran": ran, "state": final.State,
	}
}

func overridden() map[string]any {
	iid := start()
	// A serverless agent: stop at PENDING with a token, resume after the human decided.
	step, token, err := agent.PrepareStepOrPending(ctx, iid, "deploy", gantral.StepOptions{Action: action, Arguments: args})
	if err != nil || step != nil || token == nil {
		fail(fmt.Errorf("expected PENDING: %v", err))
	}
	text := token.Encode()
	request := must(agent.GetRequest(ctx, iid, token.RequestID, 0))
	decide(iid, request, gantral.DecisionTypeOverride, "2.4.1 fails canary; ship the last good build", map[string]any{"version": "2.4.0"})
	resumed := must(agent.ResumeStep(ctx, must(gantral.DecodeResumeToken(text)), 30*time.Second, args))
	var ran map[string]any
	if err := agent.RunStep(ctx, resumed, func(_ context.Context, s *gantral.Step) error { ran = s.Arguments; return nil }); err != nil {
		fail(err)
	}
	final := must(agent.Complete(ctx, iid, ""))
	return map[string]any{"instance_id": iid, "pending": true, "outcome": resumed.Outcome, "ran": ran, "state": final.State}
}

func otherArguments() map[string]any {
	iid := start()
	step := must(agent.PrepareStep(ctx, iid, "deploy", gantral.StepOptions{
		Action: action, Arguments: args, Wait: time.Minute,
		OnPending: func(r *gantral.HumanRequest) { decide(iid, r, gantral.DecisionTypeApprove, "", nil) },
	}))
	other := map[string]any{"service": "billing", "version": "9.9.9", "replicas": 3}
	_, localErr := gantral.CheckGrant(&step.Grant, "deploy", action, other)
	digest := must(gantral.ArgsDigest(action, other))
	stepID, grantID := "deploy", step.Grant.GrantID
	_, err := agent.Report(ctx, iid, gantral.EventRequest{Kind: gantral.AgentEventKindStepStarted, StepID: &stepID, GrantID: &grantID, ArgsDigest: &digest})
	var api *gantral.APIError
	if !errors.As(err, &api) || api.Kind != gantral.Conflict {
		fail(fmt.Errorf("expected a conflict, got %v", err))
	}
	must(agent.Cancel(ctx, iid, "contract test"))
	return map[string]any{"instance_id": iid, "local_refusal": refusal(localErr), "server_status": api.Status, "server_reason": api.Reason}
}

// halted: an operator halts a workflow; the agent's authorize and start are refused with
// a *HaltedError naming the halt; once lifted, the step runs.
func halted() map[string]any {
	admin := gantral.New(env("GANTRAL_URL"), gantral.StaticToken(env("GANTRAL_ADMIN_TOKEN")))
	workflow := env("GANTRAL_CAPACITY_WORKFLOW")
	begin := func() (*gantral.InstanceView, error) {
		return agent.StartInstance(ctx, gantral.StartInstanceRequest{WorkflowID: workflow, OwningTeamID: "payments",
			TriggerContext: map[string]any{"sdk": "go", "phase": "halted"}})
	}
	iid := must(begin()).InstanceID
	halt := must(admin.RaiseHalt(ctx, gantral.HaltRaise{Scope: gantral.WorkflowScope(workflow, 0), Reason: "contract test: go"}))
	out := map[string]any{"instance_id": iid, "halt_id": halt.HaltID, "raised_by": halt.RaisedBy, "scope": halt.Scope}
	func() {
		defer func() { // never leave the workflow halted for the next scenario
			lifted := must(admin.LiftHalt(ctx, halt.HaltID, "contract test over"))
			out["lifted_by"] = lifted.LiftedBy
		}()
		_, err := agent.Authorize(ctx, iid, "plan", gantral.AuthorizeRequest{Action: "plan"})
		var refused *gantral.HaltedError
		if !errors.As(err, &refused) {
			fail(fmt.Errorf("authorize under a halt: expected a *HaltedError, got %v", err))
		}
		out["refusal"] = map[string]any{"typed": true, "status": refused.API.Status, "reason": refused.API.Reason,
			"halt_id": refused.HaltID, "halt_reason": refused.HaltReason, "scope": refused.Scope}
		_, err = begin()
		if errors.As(err, &refused) {
			out["start_halt_id"] = refused.HaltID
		}
		listed := false
		for _, h := range must(admin.ListHalts(ctx, false)) {
			listed = listed || h.HaltID == halt.HaltID
		}
		out["listed"] = listed
	}()
	ran := false
	if err := agent.GovernedStep(ctx, iid, "plan", gantral.StepOptions{}, func(context.Context, *gantral.Step) error { ran = true; return nil }); err != nil {
		fail(err)
	}
	out["ran"], out["state"] = ran, must(agent.Complete(ctx, iid, "")).State
	return out
}

func main() {
	url := env("GANTRAL_URL")
	agent = gantral.New(url, gantral.NewClientCredentials(env("GANTRAL_TOKEN_URL"), env("GANTRAL_CLIENT_ID"), env("GANTRAL_CLIENT_SECRET")))
	agent.PollWait = 5 * time.Second
	human = gantral.New(url, gantral.StaticToken(env("GANTRAL_HUMAN_TOKEN")))
	auditor = gantral.New(url, gantral.StaticToken(env("GANTRAL_AUDITOR_TOKEN")))
	result := map[string]any{
		"approved":        approved(),
		"rejected":        rejected(),
		"overridden":      overridden(),
		"other_arguments": otherArguments(),
		"not_ready":       notReady(),
		"callback":        callback(),
		"halted":          halted(),
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fail(err)
	}
}

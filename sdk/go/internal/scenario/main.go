// Command scenario is the cross-SDK contract scenario for the Go SDK
// (tests/integration/test_sdk_contract.py runs it, and the same scenario through the
// Python and TypeScript SDKs, against one real stack). It prints one JSON object of
// what happened; the Python test asserts on it and on the server.
//
// Env: GANTRAL_URL, GANTRAL_TOKEN_URL, GANTRAL_CLIENT_ID, GANTRAL_CLIENT_SECRET (the
// agent), GANTRAL_HUMAN_TOKEN (a tech lead), GANTRAL_AUDITOR_TOKEN.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

// seen: the approver checks what they are shown with a digest computed on their side.
func seen(r *gantral.HumanRequest) *string {
	digest := must(gantral.ArgsDigest(r.Action, r.Arguments))
	return &digest
}

func decide(iid string, r *gantral.HumanRequest, kind gantral.DecisionType, justification string, delta map[string]any) {
	req := gantral.DecisionRequest{RequestID: r.RequestID, DecisionType: kind, SeenArgsDigest: seen(r), ContextDelta: delta}
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
			// The approver finds it in their inbox, then decides.
			inbox := must(human.Inbox(ctx, gantral.InboxOptions{PendingForMe: true}))
			out["inbox_listed"] = false
			for _, item := range inbox.Items {
				if item.RequestID == r.RequestID {
					out["inbox_listed"] = true
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
	return map[string]any{"instance_id": iid, "refusal": refusal(err), "ran": ran, "state": view.State}
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
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fail(err)
	}
}

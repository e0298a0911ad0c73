package gantral

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// NOT_READY, refusals that say who and why, and the callback URL, against a scripted API.

func notReady(reason string, retryAfter float64) *AuthorizeResult {
	return &AuthorizeResult{Outcome: AuthorizeOutcomeNotReady, StepID: "deploy", Reason: &reason, RetryAfter: &retryAfter}
}

func TestNotReadyWaitsTheHintAndAsksAgain(t *testing.T) {
	g := grantFor(t, "deploy", "deploy", asked)
	f := newFake(t, func(s seen, w http.ResponseWriter, i int) {
		switch {
		case !strings.HasSuffix(s.Path, "/authorize"):
			writeJSON(w, 200, map[string]any{"accepted": true, "state": "RUNNING"})
		case i < 2:
			writeJSON(w, 200, notReady("concurrency", 0.2))
		default:
			writeJSON(w, 200, &AuthorizeResult{Outcome: AuthorizeOutcomeAllow, StepID: "deploy", Grant: g})
		}
	})
	client := New(f.URL, nil)
	var pauses []time.Duration
	var reasons []string
	started := time.Now()
	ran := false
	err := client.GovernedStep(context.Background(), iid, "deploy", StepOptions{
		Arguments: asked, Wait: 30 * time.Second,
		OnNotReady: func(r *AuthorizeResult, pause time.Duration) {
			reasons = append(reasons, *r.Reason)
			pauses = append(pauses, pause)
		},
	}, func(ctx context.Context, s *Step) error { ran = true; return nil })
	if err != nil || !ran {
		t.Fatalf("ran=%v err=%v", ran, err)
	}
	if strings.Join(reasons, ",") != "concurrency,concurrency" || pauses[0] != 200*time.Millisecond {
		t.Fatalf("reasons %v pauses %v", reasons, pauses)
	}
	if time.Since(started) < 400*time.Millisecond {
		t.Fatalf("did not wait the hint: %s", time.Since(started))
	}
	var kinds []string
	for _, c := range f.calls {
		if k, ok := c.Body["kind"].(string); ok {
			kinds = append(kinds, k)
		} else {
			kinds = append(kinds, "authorize")
		}
	}
	if strings.Join(kinds, ",") != "authorize,authorize,authorize,STEP_STARTED,STEP_COMPLETED" {
		t.Fatalf("calls %v", kinds)
	}
}

func TestNotReadyPastTheWaitIsRefusedWithReasonAndHint(t *testing.T) {
	hints := []float64{3600, 0}
	f := newFake(t, func(s seen, w http.ResponseWriter, i int) { writeJSON(w, 200, notReady("budget", hints[i%2])) })
	client := New(f.URL, nil)
	var pauses []time.Duration
	err := client.GovernedStep(context.Background(), iid, "deploy", StepOptions{
		Arguments: asked, Wait: 500 * time.Millisecond,
		OnNotReady: func(_ *AuthorizeResult, pause time.Duration) { pauses = append(pauses, pause) },
	}, func(ctx context.Context, s *Step) error { t.Fatal("ran"); return nil })
	var refused *StepRefused
	if !errors.As(err, &refused) || refused.Reason != ReasonNotReady || refused.Why != "budget" {
		t.Fatalf("err %#v", err)
	}
	if !strings.Contains(refused.Message, "still not ready after 500ms (budget; the server suggests asking again in") {
		t.Fatalf("message %q", refused.Message)
	}
	// An hour's hint is capped (a freed slot is noticed soon); 0 is not a busy loop.
	if pauses[0] != notReadyMax || (len(pauses) > 1 && pauses[1] != notReadyMin) {
		t.Fatalf("pauses %v", pauses)
	}
	for _, c := range f.calls {
		if !strings.HasSuffix(c.Path, "/authorize") {
			t.Fatalf("reported %s", c.Path)
		}
	}
}

func TestNotReadyStopsWithTheContext(t *testing.T) {
	f := newFake(t, func(s seen, w http.ResponseWriter, i int) { writeJSON(w, 200, notReady("rate_limit", 30)) })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := New(f.URL, nil).PrepareStep(ctx, iid, "deploy", StepOptions{Arguments: asked})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestRefusalSaysWhoAndWhy(t *testing.T) {
	status := RequestStatusRejected
	why := "not during the freeze"
	f := newFake(t, func(s seen, w http.ResponseWriter, i int) {
		switch {
		case strings.HasSuffix(s.Path, "/authorize"):
			writeJSON(w, 200, &AuthorizeResult{Outcome: AuthorizeOutcomePending, StepID: "deploy", Request: humanRequest(RequestStatusPending, nil)})
		case strings.Contains(s.Path, "/requests/"):
			r := humanRequest(status, nil)
			by, via, did, deadline := "alice", "slack", "d-1", "2026-01-01T01:00:00Z"
			if status == RequestStatusExpired {
				by, via = "system", "timeout"
			}
			r.DecidedBy, r.DecidedVia, r.DecisionID, r.Deadline = &by, &via, &did, &deadline
			writeJSON(w, 200, r)
		case s.Path == "/v1/instances/"+iid:
			view := map[string]any{"instance_id": iid, "decisions": []any{}}
			if status == RequestStatusRejected {
				view["decisions"] = []Decision{{DecisionID: "d-1", RequestID: "r-1", DecisionType: "REJECT", HumanActorID: "alice", Role: "TECH_LEAD", Justification: &why, Channel: "slack"}}
			}
			writeJSON(w, 200, view)
		default:
			writeJSON(w, 200, map[string]any{"accepted": true})
		}
	})
	client := New(f.URL, nil)
	run := func() *StepRefused {
		err := client.GovernedStep(context.Background(), iid, "deploy", StepOptions{Action: "deploy.run", Arguments: asked, Wait: 5 * time.Second},
			func(ctx context.Context, s *Step) error { t.Fatal("ran"); return nil })
		var refused *StepRefused
		if !errors.As(err, &refused) {
			t.Fatalf("err %v", err)
		}
		return refused
	}
	r := run()
	if r.Reason != ReasonRejected || r.Message != "request r-1 for step deploy was REJECTED by alice (TECH_LEAD, via slack): not during the freeze" || r.Decision == nil {
		t.Fatalf("%#v", r)
	}
	status = RequestStatusExpired
	r = run()
	if r.Reason != ReasonExpired || r.Message != "request r-1 for step deploy was EXPIRED by system (via timeout): nobody decided by 2026-01-01T01:00:00Z" {
		t.Fatalf("%q", r.Message)
	}
}

func TestStartInstanceSendsCallbackURL(t *testing.T) {
	f := newFake(t, func(s seen, w http.ResponseWriter, i int) { writeJSON(w, 201, map[string]any{"instance_id": iid}) })
	url := "https://fn.example.com/hooks/1"
	if _, err := New(f.URL, nil).StartInstance(context.Background(), StartInstanceRequest{WorkflowID: "deploy", OwningTeamID: "payments", CallbackURL: &url}); err != nil {
		t.Fatal(err)
	}
	if f.calls[0].Body["callback_url"] != url {
		t.Fatalf("body %v", f.calls[0].Body)
	}
}

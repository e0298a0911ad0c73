package gantral

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const iid = "inst-1"

// seen records every call a fake API received.
type seen struct {
	Method, Path, Query, Auth string
	Body                      map[string]any
	Raw                       string
}

type fake struct {
	*httptest.Server
	mu    sync.Mutex
	calls []seen
}

func newFake(t *testing.T, handle func(s seen, w http.ResponseWriter, i int)) *fake {
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), Raw: string(raw)}
		_ = json.Unmarshal(raw, &s.Body)
		f.mu.Lock()
		f.calls = append(f.calls, s)
		i := len(f.calls) - 1
		f.mu.Unlock()
		handle(s, w, i)
	}))
	t.Cleanup(f.Close)
	return f
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// drop closes the connection without an answer: the response is lost.
func drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func grantFor(t *testing.T, step, action string, args map[string]any) *Grant {
	digest, err := ArgsDigest(action, args)
	if err != nil {
		t.Fatal(err)
	}
	return &Grant{GrantID: "g-1", StepID: step, ArgsDigest: digest, Arguments: args, ExpiresAt: "2030-01-01T00:00:00Z"}
}

var asked = map[string]any{"service": "billing", "version": "2.4.1"}

func humanRequest(status RequestStatus, g *Grant) *HumanRequest {
	r := &HumanRequest{RequestID: "r-1", StepID: "deploy", Action: "deploy.run", Arguments: asked, Materiality: "HIGH", Status: status, Grant: g, CreatedAt: "2026-01-01T00:00:00Z"}
	if status != RequestStatusPending {
		at := "2026-01-01T00:01:00Z"
		r.ResolvedAt = &at
	}
	return r
}

func authorized(outcome AuthorizeOutcome, g *Grant, r *HumanRequest) AuthorizeResult {
	high := Materiality("HIGH")
	return AuthorizeResult{Outcome: outcome, StepID: "deploy", Materiality: &high, Explanation: []string{}, Grant: g, Request: r}
}

var eventResult = map[string]any{"accepted": true, "state": "RUNNING", "cost": map[string]any{}}

func TestAPIErrorsKeepCodeAndReason(t *testing.T) {
	f := newFake(t, func(s seen, w http.ResponseWriter, _ int) {
		if strings.HasSuffix(s.Path, "/decisions") {
			writeJSON(w, 409, map[string]any{"error": "conflict", "reason": "already_decided", "message": "decided", "details": map[string]any{"by": "x"}})
			return
		}
		w.WriteHeader(502)
		_, _ = w.Write([]byte("<h1>bad gateway</h1>"))
	})
	c := New(f.URL, StaticToken("t0k"))
	_, err := c.Decide(context.Background(), iid, DecisionRequest{RequestID: "r-1", DecisionType: DecisionTypeApprove, SeenArgsDigest: "sha256:ab"})
	var api *APIError
	if !errors.As(err, &api) || api.Kind != Conflict || api.Reason != "already_decided" || api.Status != 409 || api.Details["by"] != "x" {
		t.Fatalf("got %#v", err)
	}
	if f.calls[0].Auth != "Bearer t0k" {
		t.Fatalf("auth header %q", f.calls[0].Auth)
	}
	_, err = c.GetInstance(context.Background(), iid)
	if !errors.As(err, &api) || api.Kind != Unavailable || api.Status != 502 {
		t.Fatalf("got %#v", err)
	}
}

func TestHaltedIsItsOwnError(t *testing.T) {
	f := newFake(t, func(s seen, w http.ResponseWriter, _ int) {
		writeJSON(w, 409, map[string]any{"error": "conflict", "reason": "halted", "message": "team payments is halted",
			"details": map[string]any{"halt_id": "halt_1", "halt_reason": "INC-42"}})
	})
	_, err := New(f.URL, StaticToken("t0k")).GetInstance(context.Background(), iid)
	var api *APIError
	if !errors.Is(err, ErrHalted) || !errors.As(err, &api) || api.HaltID() != "halt_1" || api.HaltReason() != "INC-42" {
		t.Fatalf("got %#v", err)
	}
	if errors.Is(&APIError{Kind: Conflict, Reason: "stale"}, ErrHalted) {
		t.Fatal("a stale conflict is no halt")
	}
}

func TestDecisionNamesTheRequestAndTheDigestShown(t *testing.T) {
	f := newFake(t, func(_ seen, w http.ResponseWriter, _ int) {
		writeJSON(w, 409, map[string]any{"error": "conflict", "reason": "stale", "message": "changed"})
	})
	c := New(f.URL, nil)
	ctx := context.Background()
	shown := &HumanRequest{RequestID: "r-2", ArgsDigest: "sha256:shown"}
	_, _ = c.Decide(ctx, iid, DecisionOn(shown, DecisionTypeApprove))
	_, _ = c.Decide(ctx, iid, DecisionOnItem(&InboxItem{RequestID: "r-3", ArgsDigest: "sha256:item"}, DecisionTypeReject))
	// No digest, no call: the SDK never fills in the current one.
	if _, err := c.Decide(ctx, iid, DecisionRequest{RequestID: "r-4", DecisionType: DecisionTypeApprove}); !errors.Is(err, ErrSeenArgsDigestRequired) {
		t.Fatalf("got %v", err)
	}
	if len(f.calls) != 2 {
		t.Fatalf("%d calls", len(f.calls))
	}
	for i, want := range [][2]string{{"r-2", "sha256:shown"}, {"r-3", "sha256:item"}} {
		body := f.calls[i].Body
		if body["request_id"] != want[0] || body["seen_args_digest"] != want[1] {
			t.Fatalf("call %d sent %v", i, body)
		}
	}
}

func TestIdempotencyKeysFreshAndReusedOnResend(t *testing.T) {
	f := newFake(t, func(s seen, w http.ResponseWriter, i int) {
		if i == 0 {
			drop(w)
			return
		}
		if strings.HasSuffix(s.Path, "/authorize") {
			writeJSON(w, 200, authorized(AuthorizeOutcomeAllow, nil, nil))
			return
		}
		writeJSON(w, 200, eventResult)
	})
	c := New(f.URL, nil)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := c.Authorize(ctx, iid, "deploy", AuthorizeRequest{Arguments: map[string]any{"a": 1}}); err != nil {
			t.Fatal(err)
		}
	}
	key := func(i int) any { return f.calls[i].Body["idempotency_key"] }
	if len(f.calls) != 3 || key(0) != key(1) || key(1) == key(2) {
		t.Fatalf("keys %v %v %v", key(0), key(1), key(2))
	}
	_, _ = c.Cancel(ctx, iid, "x")
	_, _ = c.Complete(ctx, iid, "")
	_, _ = c.Fail(ctx, iid, "")
	_, _ = c.StartInstance(ctx, StartInstanceRequest{WorkflowID: "wf", OwningTeamID: "team"})
	_, _ = c.Report(ctx, iid, EventRequest{Kind: AgentEventKindStepCompleted})
	_, _ = c.Decide(ctx, iid, DecisionRequest{RequestID: "r-1", DecisionType: DecisionTypeApprove, SeenArgsDigest: "sha256:ab"})
	keys := map[any]bool{}
	for _, s := range f.calls[3:] {
		k, ok := s.Body["idempotency_key"].(string)
		if !ok || !strings.HasPrefix(k, "sdk-") {
			t.Fatalf("%s without a key: %s", s.Path, s.Raw)
		}
		keys[k] = true
	}
	if len(keys) != 6 {
		t.Fatalf("%d distinct keys for 6 calls", len(keys))
	}
}

func TestTransportErrorAfterResends(t *testing.T) {
	f := newFake(t, func(_ seen, w http.ResponseWriter, _ int) { drop(w) })
	_, err := New(f.URL, nil).GetInstance(context.Background(), iid)
	var transport *TransportError
	if !errors.As(err, &transport) || transport.Reason() != "transport" || len(f.calls) != 3 {
		t.Fatalf("%v after %d calls", err, len(f.calls))
	}
}

func TestClientCredentialsCachedAndRefreshedOn401(t *testing.T) {
	issued := 0
	f := newFake(t, func(s seen, w http.ResponseWriter, _ int) {
		if s.Path == "/token" {
			issued++
			writeJSON(w, 200, map[string]any{"access_token": fmt.Sprintf("tok-%d", issued), "expires_in": 600})
			return
		}
		if s.Auth != "Bearer tok-2" {
			writeJSON(w, 401, map[string]any{"error": "unauthenticated", "reason": "revoked", "message": "no"})
			return
		}
		writeJSON(w, 200, map[string]any{"items": []any{}, "next_page_token": nil})
	})
	auth := NewClientCredentials(f.URL+"/token", "agent 7", "s3cr:et")
	if strings.Contains(fmt.Sprint(auth), "s3cr") {
		t.Fatal("secret shown")
	}
	c := New(f.URL, auth)
	for i := 0; i < 2; i++ {
		if _, err := c.ListInstances(context.Background(), ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if issued != 2 {
		t.Fatalf("issued %d tokens", issued)
	}
	basic, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(f.calls[0].Auth, "Basic "))
	if string(basic) != "agent+7:s3cr%3Aet" || f.calls[0].Raw != "grant_type=client_credentials" {
		t.Fatalf("token call %q %q", basic, f.calls[0].Raw)
	}
}

func TestGrantForOtherArgumentsRefusedBeforeStart(t *testing.T) {
	other := grantFor(t, "deploy", "deploy.run", map[string]any{"service": "billing", "version": "9.9.9"})
	f := newFake(t, func(s seen, w http.ResponseWriter, _ int) {
		writeJSON(w, 200, authorized(AuthorizeOutcomeAllow, other, nil))
	})
	ran := false
	err := New(f.URL, nil).GovernedStep(context.Background(), iid, "deploy", StepOptions{Action: "deploy.run", Arguments: asked},
		func(context.Context, *Step) error { ran = true; return nil })
	var refused *StepRefused
	if !errors.As(err, &refused) || refused.Reason != ReasonDigestMismatch || ran || len(f.calls) != 1 {
		t.Fatalf("%v ran=%v calls=%d", err, ran, len(f.calls))
	}
}

func TestOverrideRunsEditedArgumentsAndReports(t *testing.T) {
	edited := map[string]any{"service": "billing", "version": "2.4.2"}
	g := grantFor(t, "deploy", "deploy.run", edited)
	polls := 0
	f := newFake(t, func(s seen, w http.ResponseWriter, _ int) {
		switch {
		case strings.HasSuffix(s.Path, "/authorize"):
			writeJSON(w, 200, authorized(AuthorizeOutcomePending, nil, humanRequest(RequestStatusPending, nil)))
		case strings.Contains(s.Path, "/requests/"):
			polls++
			if polls < 2 {
				writeJSON(w, 200, humanRequest(RequestStatusPending, nil))
			} else {
				writeJSON(w, 200, humanRequest(RequestStatusOverridden, g))
			}
		default:
			writeJSON(w, 200, eventResult)
		}
	})
	c := New(f.URL, nil)
	c.PollWait = time.Second
	var pending []string
	var ran map[string]any
	err := c.GovernedStep(context.Background(), iid, "deploy",
		StepOptions{Action: "deploy.run", Arguments: asked, OnPending: func(r *HumanRequest) { pending = append(pending, r.RequestID) }},
		func(_ context.Context, s *Step) error {
			ran = s.Arguments
			s.Cost = &Cost{Tokens: 10}
			s.Detail["url"] = "u"
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ran) != fmt.Sprint(edited) || len(pending) != 1 {
		t.Fatalf("ran %v pending %v", ran, pending)
	}
	var kinds []any
	for _, s := range f.calls {
		if strings.HasSuffix(s.Path, "/events") {
			kinds = append(kinds, s.Body["kind"])
		}
		if strings.Contains(s.Path, "/requests/") && s.Query != "wait=1" {
			t.Fatalf("poll query %q", s.Query)
		}
	}
	if fmt.Sprint(kinds) != "[STEP_STARTED COST STEP_COMPLETED]" {
		t.Fatalf("events %v", kinds)
	}
	digest, _ := ArgsDigest("deploy.run", edited)
	started := f.calls[len(f.calls)-3].Body
	if started["grant_id"] != "g-1" || started["args_digest"] != digest {
		t.Fatalf("started %v", started)
	}
}

func TestRejectionAndFailure(t *testing.T) {
	f := newFake(t, func(s seen, w http.ResponseWriter, _ int) {
		if strings.HasSuffix(s.Path, "/authorize") {
			args := s.Body["arguments"].(map[string]any)
			if args["reject"] == true {
				writeJSON(w, 200, authorized(AuthorizeOutcomePending, nil, humanRequest(RequestStatusRejected, nil)))
				return
			}
			writeJSON(w, 200, authorized(AuthorizeOutcomeAllow, grantFor(t, "deploy", "deploy", args), nil))
			return
		}
		writeJSON(w, 200, eventResult)
	})
	c := New(f.URL, nil)
	err := c.GovernedStep(context.Background(), iid, "deploy", StepOptions{Arguments: map[string]any{"reject": true}},
		func(context.Context, *Step) error { t.Fatal("ran"); return nil })
	var refused *StepRefused
	if !errors.As(err, &refused) || refused.Reason != ReasonRejected {
		t.Fatalf("%v", err)
	}
	boom := &boomError{"secret data"}
	err = c.GovernedStep(context.Background(), iid, "deploy", StepOptions{Arguments: map[string]any{"n": 1}},
		func(context.Context, *Step) error { return boom })
	last := f.calls[len(f.calls)-1].Body
	if err != boom || last["kind"] != "STEP_FAILED" || fmt.Sprint(last["detail"]) != "map[error_type:*gantral.boomError]" {
		t.Fatalf("%v %v", err, last)
	}
}

type boomError struct{ msg string }

func (e *boomError) Error() string { return e.msg }

func TestResumeFromPending(t *testing.T) {
	decided := false
	f := newFake(t, func(s seen, w http.ResponseWriter, _ int) {
		switch {
		case strings.HasSuffix(s.Path, "/authorize"):
			writeJSON(w, 200, authorized(AuthorizeOutcomePending, nil, humanRequest(RequestStatusPending, nil)))
		case strings.Contains(s.Path, "/requests/"):
			if decided {
				writeJSON(w, 200, humanRequest(RequestStatusApproved, grantFor(t, "deploy", "deploy.run", asked)))
			} else {
				writeJSON(w, 200, humanRequest(RequestStatusPending, nil))
			}
		default:
			writeJSON(w, 200, eventResult)
		}
	})
	c := New(f.URL, nil)
	ctx := context.Background()
	step, token, err := c.PrepareStepOrPending(ctx, iid, "deploy", StepOptions{Action: "deploy.run", Arguments: asked})
	if err != nil || step != nil || token == nil {
		t.Fatalf("%v %v %v", step, token, err)
	}
	text := token.Encode()
	raw, _ := base64.RawURLEncoding.DecodeString(text)
	if strings.Contains(string(raw), "billing") {
		t.Fatal("the token carries the arguments")
	}
	back, err := DecodeResumeToken(text)
	if err != nil || back != *token {
		t.Fatalf("%v %v", back, err)
	}
	var refused *StepRefused
	if _, err := c.ResumeStep(ctx, back, 0, nil); !errors.As(err, &refused) || refused.Reason != ReasonDecisionTimeout {
		t.Fatalf("%v", err)
	}
	decided = true
	step, err = c.ResumeStep(ctx, back, 0, nil)
	if err != nil || step.Outcome != "APPROVED" || fmt.Sprint(step.Arguments) != fmt.Sprint(asked) {
		t.Fatalf("%v %v", step, err)
	}
	forged := back
	forged.ArgsDigest, _ = ArgsDigest("deploy.run", map[string]any{"service": "other"})
	if _, err := c.ResumeStep(ctx, forged, 0, nil); !errors.As(err, &refused) || refused.Reason != ReasonResumeMismatch {
		t.Fatalf("%v", err)
	}
}

func TestVerifyAuditChain(t *testing.T) {
	prev := strings.Repeat("0", 64)
	view := &AuditTrailView{InstanceID: iid}
	for seq := int64(1); seq <= 3; seq++ {
		body := fmt.Sprintf(`{"at":"t","instance_id":%q,"payload":{"n":%d},"seq":%d,"type":"STEP"}`, iid, seq, seq)
		p, _ := hex.DecodeString(prev)
		sum := sha256.Sum256(append(p, body...))
		hash := hex.EncodeToString(sum[:])
		view.Events = append(view.Events, EventView{Seq: seq, Type: "STEP", PrevHash: prev, Hash: hash, Body: body})
		prev = hash
	}
	view.Head = &prev
	if problems := VerifyAuditChain(view); problems != nil {
		t.Fatalf("%v", problems)
	}
	view.Events[1].Body = strings.Replace(view.Events[1].Body, `"n":2`, `"n":20`, 1)
	if problems := VerifyAuditChain(view); len(problems) != 1 || problems[0].Code != "hash_mismatch" {
		t.Fatalf("%v", problems)
	}
}

func TestInbox(t *testing.T) {
	f := newFake(t, func(_ seen, w http.ResponseWriter, _ int) {
		writeJSON(w, 200, map[string]any{"items": []any{map[string]any{"request_id": "r-1"}}, "truncated": false})
	})
	page, err := New(f.URL, nil).Inbox(context.Background(), InboxOptions{PendingForMe: true, Limit: 5})
	if err != nil || len(page.Items) != 1 || page.Items[0].RequestID != "r-1" {
		t.Fatalf("%v %v", page, err)
	}
	if f.calls[0].Path != "/v1/requests" || f.calls[0].Query != "limit=5&pending_for=me" {
		t.Fatalf("%s?%s", f.calls[0].Path, f.calls[0].Query)
	}
	if _, err := New(f.URL, nil).Inbox(context.Background(), InboxOptions{PageToken: "next-1"}); err != nil {
		t.Fatal(err)
	}
	if f.calls[1].Query != "page_token=next-1" {
		t.Fatalf("%s?%s", f.calls[1].Path, f.calls[1].Query)
	}
}

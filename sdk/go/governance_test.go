package gantral

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// haltedBody is the 409 the API answers while a halt covers a call
// (gantral/governance/halts.py `halted`, as GantralError.to_dict sends it).
func haltedBody(what string, scope map[string]any) map[string]any {
	return map[string]any{
		"error":   "conflict",
		"reason":  "halted",
		"message": what + " refused: team payments is halted (halt_7): INC-42 card fraud",
		"details": map[string]any{"halt_id": "halt_7", "halt_reason": "INC-42 card fraud", "scope": scope},
	}
}

func haltedFake(t *testing.T, scope map[string]any) *fake {
	return newFake(t, func(s seen, w http.ResponseWriter, _ int) {
		writeJSON(w, 409, haltedBody("authorizing step deploy", scope))
	})
}

func TestHaltedErrorFromAuthorizeStartAndGovernedStep(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(c *Client) error{
		"authorize": func(c *Client) error {
			_, err := c.Authorize(ctx, iid, "deploy", AuthorizeRequest{Action: "deploy.run", Arguments: asked})
			return err
		},
		"start": func(c *Client) error {
			_, err := c.StartInstance(ctx, StartInstanceRequest{WorkflowID: "deploys", OwningTeamID: "payments"})
			return err
		},
		"governed step": func(c *Client) error {
			return c.GovernedStep(ctx, iid, "deploy", StepOptions{Action: "deploy.run", Arguments: asked},
				func(context.Context, *Step) error { t.Fatal("a halted step must not run"); return nil })
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			f := haltedFake(t, map[string]any{"team": "payments"})
			err := call(New(f.URL, nil))
			var halted *HaltedError
			if !errors.As(err, &halted) {
				t.Fatalf("errors.As(*HaltedError) false for %#v", err)
			}
			if halted.HaltID != "halt_7" || halted.HaltReason != "INC-42 card fraud" || halted.Scope.String() != "team payments" {
				t.Fatalf("got %+v (scope %s)", halted, halted.Scope)
			}
			if halted.API.Status != 409 || halted.API.Reason != "halted" || !strings.Contains(halted.Error(), "halt_7") {
				t.Fatalf("the answer as sent: %+v", halted.API)
			}
			// The other ways in keep working on the same error.
			var api *APIError
			if !errors.Is(err, ErrHalted) || !errors.As(err, &api) || api.Kind != Conflict || !errors.Is(halted, ErrHalted) {
				t.Fatalf("got %#v", err)
			}
			if len(f.calls) != 1 {
				t.Fatalf("a halt's refusal is not retried: %d calls", len(f.calls))
			}
		})
	}
}

func TestHaltedErrorCarriesEveryKindOfScope(t *testing.T) {
	for _, tc := range []struct {
		scope map[string]any
		want  HaltScope
	}{
		{map[string]any{"agent": "bot-1"}, AgentScope("bot-1")},
		{map[string]any{"workflow": "deploys", "version": 3}, WorkflowScope("deploys", 3)},
		{map[string]any{"deployment": true}, DeploymentScope()},
	} {
		f := haltedFake(t, tc.scope)
		_, err := New(f.URL, nil).Authorize(context.Background(), iid, "deploy", AuthorizeRequest{})
		var halted *HaltedError
		if !errors.As(err, &halted) || !reflect.DeepEqual(halted.Scope, tc.want) {
			t.Fatalf("scope %v: got %#v", tc.scope, halted)
		}
	}
}

func TestOtherConflictsAreNoHaltedError(t *testing.T) {
	f := newFake(t, func(_ seen, w http.ResponseWriter, _ int) {
		writeJSON(w, 409, map[string]any{"error": "conflict", "reason": "stale", "message": "changed"})
	})
	_, err := New(f.URL, nil).GetInstance(context.Background(), iid)
	var halted *HaltedError
	var api *APIError
	if errors.As(err, &halted) || !errors.As(err, &api) || api.Reason != "stale" {
		t.Fatalf("got %#v", err)
	}
}

func TestScopesMarshalAsTheAPITakesThem(t *testing.T) {
	for scope, want := range map[string]string{
		DeploymentScope().String():           `{"deployment":true}`,
		TeamScope("payments").String():       `{"team":"payments"}`,
		WorkflowScope("deploys", 0).String(): `{"workflow":"deploys"}`,
	} {
		var s HaltScope
		if err := json.Unmarshal([]byte(want), &s); err != nil || s.String() != scope {
			t.Fatalf("%s: %v %s", want, err, s)
		}
		raw, _ := json.Marshal(s)
		if string(raw) != want {
			t.Fatalf("%s marshals as %s", scope, raw)
		}
	}
}

var theHalt = map[string]any{"halt_id": "halt_7", "scope": map[string]any{"team": "payments"}, "reason": "INC-42",
	"raised_by": "alice", "raised_at": "2026-12-07T00:00:00Z"}

func TestHaltHelpersSendTheAPIsRoutesAndBodies(t *testing.T) {
	f := newFake(t, func(s seen, w http.ResponseWriter, _ int) {
		switch {
		case s.Method == "GET" && s.Path == "/v1/halts":
			writeJSON(w, 200, []any{theHalt})
		case s.Path == "/v1/halts":
			writeJSON(w, 201, theHalt)
		case s.Path == "/v1/halts/nope":
			writeJSON(w, 404, map[string]any{"error": "not_found", "reason": "unknown_halt", "message": "unknown halt 'nope'"})
		default:
			lifted := map[string]any{"lifted_by": "bob", "lifted_at": "2026-12-07T00:05:00Z"}
			for k, v := range theHalt {
				lifted[k] = v
			}
			writeJSON(w, 200, lifted)
		}
	})
	c := New(f.URL, nil)
	ctx := context.Background()
	raised, err := c.RaiseHalt(ctx, HaltRaise{Scope: TeamScope("payments"), Reason: "INC-42", LiftByAnother: true})
	if err != nil || raised.HaltID != "halt_7" || raised.Scope.String() != "team payments" {
		t.Fatalf("raise: %v %+v", err, raised)
	}
	halts, err := c.ListHalts(ctx, true)
	if err != nil || len(halts) != 1 || halts[0].RaisedBy != "alice" {
		t.Fatalf("list: %v %+v", err, halts)
	}
	lifted, err := c.LiftHalt(ctx, "halt_7", "fixed")
	if err != nil || lifted.LiftedBy == nil || *lifted.LiftedBy != "bob" {
		t.Fatalf("lift: %v %+v", err, lifted)
	}
	if _, err := c.ExemptFromHalt(ctx, "halt_7", AgentScope("bot-1"), "staged"); err != nil {
		t.Fatal(err)
	}
	var api *APIError
	if _, err := c.GetHalt(ctx, "nope"); !errors.As(err, &api) || api.Kind != NotFound || api.Reason != "unknown_halt" {
		t.Fatalf("get: %#v", err)
	}
	want := []struct{ method, path, query, body string }{
		{"POST", "/v1/halts", "", `{"lift_by_another":true,"reason":"INC-42","scope":{"team":"payments"}}`},
		{"GET", "/v1/halts", "include_lifted=true", ""},
		{"POST", "/v1/halts/halt_7:lift", "", `{"reason":"fixed"}`},
		{"POST", "/v1/halts/halt_7:exempt", "", `{"reason":"staged","scope":{"agent":"bot-1"}}`},
		{"GET", "/v1/halts/nope", "", ""},
	}
	for i, w := range want {
		got := f.calls[i]
		if got.Method != w.method || got.Path != w.path || got.Query != w.query || got.Raw != w.body {
			t.Fatalf("call %d: got %s %s?%s %s", i, got.Method, got.Path, got.Query, got.Raw)
		}
	}
}

func TestABatchAnswered207SurfacesEachRefusalTyped(t *testing.T) {
	f := newFake(t, func(_ seen, w http.ResponseWriter, _ int) {
		writeJSON(w, 207, map[string]any{"decided": 1, "refused": 2, "items": []any{
			map[string]any{"instance_id": "i-1", "request_id": "r-1", "status": 200},
			map[string]any{"instance_id": "i-2", "request_id": "r-2", "status": 409,
				"error": map[string]any{"error": "conflict", "reason": "stale", "message": "arguments changed since shown"}},
			map[string]any{"instance_id": "i-3", "request_id": "r-3", "status": 403,
				"error": map[string]any{"error": "forbidden", "reason": "separation_of_duties", "message": "you requested it",
					"details": map[string]any{"role": "TECH_LEAD"}}},
		}})
	})
	c := New(f.URL, nil)
	ctx := context.Background()
	justification := "routine"
	result, err := c.DecideBatch(ctx, BatchDecisionRequest{DecisionType: "APPROVE", Justification: &justification, Items: []BatchDecisionItem{
		BatchItemOn("i-1", &HumanRequest{RequestID: "r-1", ArgsDigest: "sha256:a"}),
		BatchItemOnInbox(&InboxItem{InstanceID: "i-2", RequestID: "r-2", ArgsDigest: "sha256:b"}),
		{InstanceID: "i-3", RequestID: "r-3", SeenArgsDigest: "sha256:c"},
	}})
	if err != nil || result.Decided != 1 || result.Refused != 2 {
		t.Fatalf("a 207 is an answer, not an error: %v %+v", err, result)
	}
	refused := BatchRefusals(result)
	if len(refused) != 2 {
		t.Fatalf("refusals: %+v", refused)
	}
	stale, sod := refused[0], refused[1]
	if stale.Kind != Conflict || stale.Reason != "stale" || stale.Status != 409 || stale.Details["request_id"] != "r-2" || stale.Details["instance_id"] != "i-2" {
		t.Fatalf("stale: %+v", stale)
	}
	if sod.Kind != Forbidden || sod.Reason != "separation_of_duties" || sod.Details["role"] != "TECH_LEAD" || sod.Details["request_id"] != "r-3" {
		t.Fatalf("sod: %+v", sod)
	}
	if _, leaked := result.Items[2].Error.Details["request_id"]; leaked {
		t.Fatal("the answer itself is left as sent")
	}
	sent := f.calls[0]
	items, _ := json.Marshal(sent.Body["items"])
	if sent.Path != "/v1/decisions:batch" || sent.Body["decision_type"] != "APPROVE" || sent.Body["justification"] != "routine" ||
		!strings.HasPrefix(sent.Body["idempotency_key"].(string), "sdk-") ||
		string(items) != `[{"instance_id":"i-1","request_id":"r-1","seen_args_digest":"sha256:a"},{"instance_id":"i-2","request_id":"r-2","seen_args_digest":"sha256:b"},{"instance_id":"i-3","request_id":"r-3","seen_args_digest":"sha256:c"}]` {
		t.Fatalf("sent %s %s", sent.Path, sent.Raw)
	}
	// No digest shown, no call.
	if _, err := c.DecideBatch(ctx, BatchDecisionRequest{DecisionType: "APPROVE", Items: []BatchDecisionItem{{InstanceID: "i", RequestID: "r"}}}); !errors.Is(err, ErrSeenArgsDigestRequired) || len(f.calls) != 1 {
		t.Fatalf("got %v after %d calls", err, len(f.calls))
	}
}

func TestPutGetAndEndMyDelegation(t *testing.T) {
	delegation := map[string]any{"delegation_id": "dlg-1", "delegator": "alice", "deputy": "bob", "roles": []string{"TECH_LEAD"},
		"starts_at": "2026-12-07T00:00:00Z", "ends_at": "2026-12-08T00:00:00Z", "created_at": "2026-12-07T00:00:00Z"}
	f := newFake(t, func(s seen, w http.ResponseWriter, i int) {
		switch {
		case s.Method == "GET":
			writeJSON(w, 200, map[string]any{"given": delegation, "received": []any{}})
		case s.Method == "DELETE" && i > 2:
			writeJSON(w, 404, map[string]any{"error": "not_found", "reason": "no_delegation", "message": "none in effect"})
		default:
			writeJSON(w, 200, delegation)
		}
	})
	c := New(f.URL, nil)
	ctx := context.Background()
	ends := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	starts := time.Date(2026, 12, 7, 1, 0, 0, 0, time.FixedZone("CET", 3600))
	given, err := c.Delegate(ctx, "bob", ends, DelegateOptions{Roles: []string{"TECH_LEAD"}, StartsAt: starts, Reason: "out of office"})
	if err != nil || given.Deputy != "bob" {
		t.Fatalf("delegate: %v %+v", err, given)
	}
	mine, err := c.MyDelegations(ctx)
	if err != nil || mine.Given == nil || mine.Given.DelegationID != "dlg-1" || len(mine.Received) != 0 {
		t.Fatalf("mine: %v %+v", err, mine)
	}
	if _, err := c.EndDelegation(ctx); err != nil {
		t.Fatal(err)
	}
	var api *APIError
	if _, err := c.EndDelegation(ctx); !errors.As(err, &api) || api.Kind != NotFound || api.Reason != "no_delegation" {
		t.Fatalf("end again: %#v", err)
	}
	put := f.calls[0]
	if put.Method != "PUT" || put.Path != "/v1/delegations/me" ||
		put.Raw != `{"deputy":"bob","ends_at":"2026-12-08T00:00:00Z","reason":"out of office","roles":["TECH_LEAD"],"starts_at":"2026-12-07T01:00:00+01:00"}` {
		t.Fatalf("put: %s %s %s", put.Method, put.Path, put.Raw)
	}
	if f.calls[1].Method != "GET" || f.calls[2].Method != "DELETE" || f.calls[2].Path != "/v1/delegations/me" {
		t.Fatalf("calls: %+v", f.calls)
	}
}

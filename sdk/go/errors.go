package gantral

// The SDK's error tree, as the Python SDK's (sdk/python/src/gantral_sdk/_errors.py). Branch with
// errors.As on *APIError (Kind and Reason), *TransportError or *StepRefused (Reason):
//
//	*TransportError   the API could not be reached (Reason "transport")
//	*APIError         the API refused: Status, Code, Reason, Details; Kind is one of
//	                  InvalidInput, Unauthenticated, Forbidden, NotFound, Conflict, Unavailable;
//	                  errors.Is(err, ErrHalted) when a halt (the kill switch) covers the call
//	*HaltedError      the same refusal, by errors.As: HaltID, HaltReason, Scope
//	*StepRefused      a governed step must not run: Reason "rejected", "expired",
//	                  "cancelled", "decision_timeout", "args_digest_mismatch",
//	                  "not_ready", ...; Decision says who refused and why

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind is the class of an API error, from the server's `error` code.
type Kind string

const (
	InvalidInput    Kind = "invalid_input"
	Unauthenticated Kind = "unauthenticated"
	Forbidden       Kind = "forbidden"
	NotFound        Kind = "not_found"
	Conflict        Kind = "conflict"
	Unavailable     Kind = "unavailable"
	OtherError      Kind = "error"
)

// APIError is an error answer from the API, keeping the server's code and reason.
type APIError struct {
	Status  int
	Kind    Kind
	Code    string // the server's `error` field, as sent
	Reason  string // machine-readable: already_decided, grant_reused, stale, ...
	Message string
	Details map[string]any
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s/%s: %s", e.Status, e.Code, e.Reason, e.Message)
}

// ErrHalted matches (errors.Is) an *APIError refusing the call because a halt, the kill
// switch, covers it (409, reason "halted"): nothing ran; HaltID and HaltReason say which.
var ErrHalted = errors.New("gantral: halted")

// Is makes errors.Is(err, ErrHalted) true for a halt's refusal.
func (e *APIError) Is(target error) bool {
	return target == ErrHalted && e.Kind == Conflict && e.Reason == "halted"
}

// HaltID is the halt that refused the call ("" unless errors.Is(e, ErrHalted)).
func (e *APIError) HaltID() string { s, _ := e.Details["halt_id"].(string); return s }

// HaltReason is why the halt was raised ("" unless errors.Is(e, ErrHalted)).
func (e *APIError) HaltReason() string { s, _ := e.Details["halt_reason"].(string); return s }

// HaltedError is a halt's refusal (409, reason "halted") of any call it covers:
// StartInstance, Authorize, GovernedStep, a step's start. Nothing ran, and retrying is
// pointless until the halt is lifted (or the scope exempted). Find it with errors.As:
//
//	var halted *gantral.HaltedError
//	if errors.As(err, &halted) {
//		log.Printf("halt %s over %s: %s", halted.HaltID, halted.Scope, halted.HaltReason)
//	}
//
// The call returns the *APIError itself (errors.As to *APIError keeps working); its As
// method builds this view of it.
type HaltedError struct {
	HaltID     string    // the halt that refused the call
	HaltReason string    // why it was raised
	Scope      HaltScope // what it covers: one of Team, Agent, Workflow (Version), Deployment
	API        *APIError // the answer as sent
}

func (e *HaltedError) Error() string { return e.API.Error() }
func (e *HaltedError) Unwrap() error { return e.API }

// As lets errors.As(err, &halted) find a *HaltedError in a halt's refusal.
func (e *APIError) As(target any) bool {
	out, ok := target.(**HaltedError)
	if !ok || !e.Is(ErrHalted) {
		return false
	}
	h := &HaltedError{HaltID: e.HaltID(), HaltReason: e.HaltReason(), API: e}
	if raw, err := json.Marshal(e.Details["scope"]); err == nil {
		_ = json.Unmarshal(raw, &h.Scope) // a scope not as documented stays zero
	}
	*out = h
	return true
}

// TransportError: the API could not be reached, or did not answer in time.
type TransportError struct {
	Op  string
	Err error
}

func (e *TransportError) Error() string { return fmt.Sprintf("%s: %v", e.Op, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// Reason is "transport", like the other SDKs.
func (e *TransportError) Reason() string { return "transport" }

// Refusal reasons of a governed step.
const (
	ReasonRejected        = "rejected"
	ReasonExpired         = "expired"
	ReasonCancelled       = "cancelled"
	ReasonDecisionTimeout = "decision_timeout"
	ReasonDigestMismatch  = "args_digest_mismatch"
	ReasonGrantStep       = "grant_step_mismatch"
	ReasonNoGrant         = "no_grant"
	ReasonNoRequest       = "no_request"
	ReasonResumeMismatch  = "resume_mismatch"
	ReasonNotReady        = "not_ready"
)

// StepRefused: a governed step must not run, and nothing was reported as started.
type StepRefused struct {
	Reason  string
	Message string
	Request *HumanRequest // the human request, when there is one
	// The human decision that refused the step (who, in which role, their
	// justification), when there is one and the instance could be read.
	Decision *Decision
	// NOT_READY past the step's wait (Reason "not_ready"): the server's last reason
	// (concurrency, rate_limit, budget, ...) and its hint of when to ask again.
	Why        string
	RetryAfter time.Duration
}

func (e *StepRefused) Error() string { return e.Reason + ": " + e.Message }

var kindByStatus = map[int]Kind{
	http.StatusBadRequest:          InvalidInput,
	http.StatusUnprocessableEntity: InvalidInput,
	http.StatusUnauthorized:        Unauthenticated,
	http.StatusForbidden:           Forbidden,
	http.StatusNotFound:            NotFound,
	http.StatusConflict:            Conflict,
}

// errorFromResponse types a non-2xx answer: the body's `error` code picks the kind,
// the status is the fallback for bodies that are not Gantral's (a proxy's page).
func errorFromResponse(status int, body []byte) *APIError {
	var parsed struct {
		Error   *string        `json:"error"`
		Reason  *string        `json:"reason"`
		Message *string        `json:"message"`
		Details map[string]any `json:"details"`
	}
	_ = json.Unmarshal(body, &parsed) // not JSON: the status decides
	e := &APIError{Status: status, Details: parsed.Details}
	if parsed.Error != nil {
		e.Code = *parsed.Error
	}
	e.Kind = kindOf(e.Code, status)
	if e.Code == "" {
		e.Code = string(e.Kind)
	}
	e.Reason = e.Code
	if parsed.Reason != nil {
		e.Reason = *parsed.Reason
	}
	e.Message = http.StatusText(status)
	if parsed.Message != nil {
		e.Message = *parsed.Message
	}
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	return e
}

// kindOf: the server's `error` code picks the kind; the status is the fallback.
func kindOf(code string, status int) Kind {
	switch Kind(code) {
	case InvalidInput, Unauthenticated, Forbidden, NotFound, Conflict, Unavailable:
		return Kind(code)
	}
	if status >= 500 {
		return Unavailable
	}
	if k, ok := kindByStatus[status]; ok {
		return k
	}
	return OtherError
}

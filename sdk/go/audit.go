package gantral

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// ChainProblem is one finding of VerifyAuditChain.
type ChainProblem struct {
	Code    string
	Message string
	Seq     int64
}

// VerifyAuditChain re-verifies an instance's audit chain locally, independent of the
// server's /verify: seqs 1..n, each link to the previous hash, each hash =
// SHA-256(prev_hash bytes || body bytes), each body canonical and naming its own
// instance, seq and type. No problems: nil.
func VerifyAuditChain(view *AuditTrailView) []ChainProblem {
	var problems []ChainProblem
	prev := strings.Repeat("0", 64)
	expected := int64(1)
	for _, e := range view.Events {
		add := func(code, msg string) { problems = append(problems, ChainProblem{code, msg, e.Seq}) }
		if e.Seq != expected {
			add("missing_event", fmt.Sprintf("expected seq %d, found %d", expected, e.Seq))
		}
		if e.PrevHash != prev {
			add("broken_link", "prev_hash is not the hash of the previous event")
		}
		prevBytes, _ := hex.DecodeString(e.PrevHash)
		sum := sha256.Sum256(append(prevBytes, e.Body...))
		if hex.EncodeToString(sum[:]) != e.Hash {
			add("hash_mismatch", "hash does not match the stored body")
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(e.Body)))
		dec.UseNumber()
		var body map[string]any
		if err := dec.Decode(&body); err != nil {
			add("bad_body", "the body is not JSON")
		} else {
			if canonical, err := Canonicalize(body); err != nil || string(canonical) != e.Body {
				add("not_canonical", "the body is not canonical JSON")
			}
			if body["instance_id"] != view.InstanceID || fmt.Sprint(body["seq"]) != fmt.Sprint(e.Seq) || body["type"] != e.Type {
				add("body_mismatch", "the body names another instance, seq or type")
			}
		}
		prev, expected = e.Hash, e.Seq+1
	}
	if view.Head != nil && len(view.Events) > 0 && *view.Head != prev {
		problems = append(problems, ChainProblem{"head_mismatch", "head is not the last event's hash", expected - 1})
	}
	return problems
}

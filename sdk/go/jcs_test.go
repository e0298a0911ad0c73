package gantral

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

type vector struct {
	Name       string         `json:"name"`
	Action     string         `json:"action"`
	Arguments  map[string]any `json:"arguments"`
	Canonical  string         `json:"canonical"`
	SHA256     string         `json:"sha256"`
	ArgsDigest string         `json:"args_digest"`
}

func loadVectors(t *testing.T) (vectors, refused []vector) {
	t.Helper()
	data, err := os.ReadFile("../../specs/digest-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []vector `json:"vectors"`
		Refused []vector `json:"refused"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // integers and floats stay apart, as the server parses them
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vectors) < 10 || len(doc.Refused) < 2 {
		t.Fatal("the shared vectors are missing")
	}
	return doc.Vectors, doc.Refused
}

func TestDigestVectors(t *testing.T) {
	vectors, refused := loadVectors(t)
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			canonical, err := Canonicalize(map[string]any{"action": v.Action, "arguments": v.Arguments})
			if err != nil {
				t.Fatal(err)
			}
			if string(canonical) != v.Canonical {
				t.Fatalf("canonical\n got %s\nwant %s", canonical, v.Canonical)
			}
			sum := sha256.Sum256(canonical)
			if hex.EncodeToString(sum[:]) != v.SHA256 {
				t.Fatal("sha256 differs")
			}
			digest, err := ArgsDigest(v.Action, v.Arguments)
			if err != nil || digest != v.ArgsDigest {
				t.Fatalf("ArgsDigest = %q, %v; want %q", digest, err, v.ArgsDigest)
			}
		})
	}
	for _, v := range refused {
		t.Run("refused "+v.Name, func(t *testing.T) {
			if d, err := ArgsDigest(v.Action, v.Arguments); err == nil {
				t.Fatalf("digested %s", d)
			}
		})
	}
}

func TestGoValuesDigestLikeTheirJSON(t *testing.T) {
	type release struct {
		Service  string `json:"service"`
		Replicas int    `json:"replicas"`
	}
	native := map[string]any{"n": 3, "f": 0.5, "r": release{"billing", 2}, "l": []string{"a"}, "neg": -0.0, "big": 1e21}
	plain, err := Plain(native)
	if err != nil {
		t.Fatal(err)
	}
	a, err1 := ArgsDigest("x", native)
	b, err2 := ArgsDigest("x", plain)
	if err1 != nil || err2 != nil || a != b {
		t.Fatalf("%s %v / %s %v", a, err1, b, err2)
	}
	for _, bad := range []any{float64(1 << 60), int64(1 << 53), uint64(1 << 60)} {
		if _, err := ArgsDigest("x", map[string]any{"n": bad}); err == nil {
			t.Errorf("%v was digested", bad)
		}
	}
	if _, err := ArgsDigest("x", map[string]any{"s": "\xff"}); err == nil {
		t.Error("invalid UTF-8 was digested")
	}
}

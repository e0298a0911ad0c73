package gentypes

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

const specPath = "../../../../specs/openapi.json"

func TestTypesMatchTheSpec(t *testing.T) {
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../types_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("types_gen.go has drifted from specs/openapi.json: run `go run ./cmd/gentypes` in sdk/go")
	}
}

func TestDriftIsCaught(t *testing.T) {
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	grant := doc["components"].(map[string]any)["schemas"].(map[string]any)["Grant"].(map[string]any)
	grant["properties"].(map[string]any)["new_field"] = map[string]any{"type": "string"}
	changed, _ := json.Marshal(doc)
	before, _ := Generate(spec)
	after, err := Generate(changed)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, after) || !bytes.Contains(after, []byte("`json:\"new_field,omitempty\"`")) {
		t.Fatal("a new field in the spec did not change the generated types")
	}
}

func TestFieldNames(t *testing.T) {
	for in, want := range map[string]string{"instance_id": "InstanceID", "wall_time_seconds": "WallTimeSeconds", "args_digest": "ArgsDigest"} {
		if got := FieldName(in); got != want {
			t.Errorf("FieldName(%q) = %q, want %q", in, got, want)
		}
	}
}

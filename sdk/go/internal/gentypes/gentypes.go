// Package gentypes generates the SDK's Go types (types_gen.go) from specs/openapi.json.
// The package's tests regenerate them and fail when the committed file has drifted.
package gentypes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"sort"
	"strings"
)

// Schema is the part of a JSON Schema the generator reads.
type Schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Enum                 []any              `json:"enum"`
	Const                any                `json:"const"`
	AnyOf                []*Schema          `json:"anyOf"`
	OneOf                []*Schema          `json:"oneOf"`
	Items                *Schema            `json:"items"`
	Properties           map[string]*Schema `json:"properties"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Required             []string           `json:"required"`
	Description          string             `json:"description"`
	Default              json.RawMessage    `json:"default"`
}

// renames would give schemas names of their own; the spec's names are unique already.
var renames = map[string]string{}

var initialisms = map[string]string{"id": "ID", "url": "URL", "ttl": "TTL", "sla": "SLA", "api": "API", "n": "N", "ok": "OK"}

// TypeName is the Go name of a component schema.
func TypeName(name string) string {
	if r, ok := renames[name]; ok {
		return r
	}
	return name
}

// FieldName turns snake_case into a Go identifier (instance_id -> InstanceID).
func FieldName(name string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if up, ok := initialisms[strings.ToLower(part)]; ok {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + strings.ToLower(part[1:]))
	}
	return b.String()
}

type gen struct {
	schemas map[string]*Schema
}

func (g *gen) resolve(s *Schema) *Schema {
	if s.Ref != "" {
		return g.schemas[s.Ref[strings.LastIndex(s.Ref, "/")+1:]]
	}
	return s
}

// nonNull splits an anyOf/oneOf into its non-null branches and whether null is allowed.
func nonNull(s *Schema) ([]*Schema, bool) {
	branches := s.AnyOf
	if branches == nil {
		branches = s.OneOf
	}
	var out []*Schema
	nullable := false
	for _, b := range branches {
		if b.Type == "null" && b.Ref == "" {
			nullable = true
			continue
		}
		out = append(out, b)
	}
	return out, nullable
}

// goType returns the Go type and whether it is a reference-like type (map, slice, any)
// that carries its own "absent" value.
func (g *gen) goType(s *Schema) (string, bool) {
	if s.Ref != "" {
		name := s.Ref[strings.LastIndex(s.Ref, "/")+1:]
		return TypeName(name), false
	}
	if s.AnyOf != nil || s.OneOf != nil {
		branches, _ := nonNull(s)
		if len(branches) == 1 {
			return g.goType(branches[0])
		}
		return "any", true
	}
	if s.Const != nil {
		if _, ok := s.Const.(bool); ok {
			return "bool", false // {"deployment": true}: a string would be refused
		}
		return "string", false
	}
	switch s.Type {
	case "string":
		return "string", false
	case "integer":
		return "int64", false
	case "number":
		return "float64", false
	case "boolean":
		return "bool", false
	case "array":
		if s.Items == nil {
			return "[]any", true
		}
		item, _ := g.goType(s.Items)
		return "[]" + item, true
	case "object":
		var ap Schema
		if len(s.AdditionalProperties) > 0 && s.AdditionalProperties[0] == '{' && json.Unmarshal(s.AdditionalProperties, &ap) == nil && (ap.Type != "" || ap.Ref != "" || ap.AnyOf != nil) {
			value, _ := g.goType(&ap)
			return "map[string]" + value, true
		}
		return "map[string]any", true
	}
	return "any", true
}

func comment(b *bytes.Buffer, indent, text string) {
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		fmt.Fprintf(b, "%s// %s\n", indent, strings.TrimSpace(line))
	}
}

// Generate returns the gofmt'ed source of types_gen.go for an OpenAPI document.
func Generate(spec []byte) ([]byte, error) {
	var doc struct {
		Components struct {
			Schemas map[string]*Schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, err
	}
	g := &gen{schemas: doc.Components.Schemas}
	names := make([]string, 0, len(g.schemas))
	for name := range g.schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("// Code generated from specs/openapi.json by cmd/gentypes; DO NOT EDIT.\n")
	b.WriteString("// Run `go run ./cmd/gentypes`; the tests fail when this file and the spec drift apart.\n\n")
	b.WriteString("package gantral\n\n")
	for _, name := range names {
		s := g.schemas[name]
		typ := TypeName(name)
		if s.Description != "" {
			comment(&b, "", s.Description)
		}
		switch {
		case s.Enum != nil:
			fmt.Fprintf(&b, "type %s string\n\nconst (\n", typ)
			for _, v := range s.Enum {
				fmt.Fprintf(&b, "\t%s%s %s = %q\n", typ, FieldName(fmt.Sprint(v)), typ, fmt.Sprint(v))
			}
			b.WriteString(")\n\n")
		case s.Type == "object" && s.Properties != nil:
			g.writeStruct(&b, typ, s)
		default:
			t, _ := g.goType(s)
			fmt.Fprintf(&b, "type %s = %s\n\n", typ, t)
		}
	}
	return format.Source(b.Bytes())
}

func (g *gen) writeStruct(b *bytes.Buffer, typ string, s *Schema) {
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	fields := make([]string, 0, len(s.Properties))
	for f := range s.Properties {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	fmt.Fprintf(b, "type %s struct {\n", typ)
	for _, f := range fields {
		p := s.Properties[f]
		t, refLike := g.goType(p)
		_, nullable := nonNull(p)
		target := g.resolve(p)
		isStruct := target != nil && target.Type == "object" && target.Properties != nil && p.Ref != ""
		if len(p.AnyOf) > 0 || len(p.OneOf) > 0 {
			if branches, _ := nonNull(p); len(branches) == 1 && branches[0].Ref != "" {
				if r := g.resolve(branches[0]); r != nil && r.Type == "object" && r.Properties != nil {
					isStruct = true
				}
			}
		}
		// Nullable scalars and optional structs are pointers; maps, slices and `any`
		// already have an absent value.
		if !refLike && (nullable || (isStruct && !required[f])) {
			t = "*" + t
		}
		tag := f
		if !required[f] {
			tag += ",omitempty"
		}
		if p.Description != "" {
			comment(b, "\t", p.Description)
		}
		fmt.Fprintf(b, "\t%s %s `json:%q`\n", FieldName(f), t, tag)
	}
	b.WriteString("}\n\n")
}

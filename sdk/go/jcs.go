package gantral

// RFC 8785 (JCS) canonical JSON and the argument digest a grant binds to:
// "sha256:" + hex(SHA-256(JCS({action, arguments}))), as the server's
// gantral.domain.digest.args_digest. Known answers: specs/digest-vectors.json.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const maxSafeInteger = 1<<53 - 1

// Canonicalize returns the RFC 8785 canonical JSON of a JSON value: nil, bool, string,
// any Go number, json.Number, map[string]any, []any. Anything else (structs, typed maps
// and slices) is first turned into its JSON form with encoding/json.
func Canonicalize(value any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeCanonical(&b, value); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ArgsDigest is the digest an approval binds to: the action with its exact arguments.
func ArgsDigest(action string, arguments map[string]any) (string, error) {
	if arguments == nil {
		arguments = map[string]any{}
	}
	canonical, err := Canonicalize(map[string]any{"action": action, "arguments": arguments})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Plain returns a JSON-plain deep copy (numbers as json.Number): exactly what the
// server receives, so later changes to the caller's map cannot change what runs.
func Plain(arguments map[string]any) (map[string]any, error) {
	if arguments == nil {
		return map[string]any{}, nil
	}
	data, err := json.Marshal(arguments)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	out := map[string]any{}
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func writeCanonical(b *bytes.Buffer, value any) error {
	switch v := value.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		return writeString(b, v)
	case json.Number:
		return writeNumberText(b, string(v))
	case float64:
		return writeFloat(b, v)
	case float32:
		return writeFloat(b, float64(v))
	case int, int8, int16, int32, int64:
		return writeInt(b, reflect.ValueOf(v).Int())
	case uint, uint8, uint16, uint32, uint64:
		u := reflect.ValueOf(v).Uint()
		if u > maxSafeInteger {
			return fmt.Errorf("%d exceeds the safe integer range of JSON numbers", u)
		}
		return writeInt(b, int64(u))
	case map[string]any:
		return writeObject(b, v)
	case []any:
		b.WriteByte('[')
		for i, item := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, item); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		// Structs, typed maps and slices: canonicalize their JSON form.
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var generic any
		if err := dec.Decode(&generic); err != nil {
			return err
		}
		return writeCanonical(b, generic)
	}
	return nil
}

func writeObject(b *bytes.Buffer, obj map[string]any) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	// JCS orders keys by their UTF-16 code units, not by bytes or code points.
	sort.Slice(keys, func(i, j int) bool { return lessUTF16(keys[i], keys[j]) })
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeString(b, k); err != nil {
			return err
		}
		b.WriteByte(':')
		if err := writeCanonical(b, obj[k]); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

func lessUTF16(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

func writeString(b *bytes.Buffer, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("string is not valid UTF-8: %q", s)
	}
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return nil
}

func writeInt(b *bytes.Buffer, n int64) error {
	if n > maxSafeInteger || n < -maxSafeInteger {
		return fmt.Errorf("%d exceeds the safe integer range of JSON numbers", n)
	}
	b.WriteString(strconv.FormatInt(n, 10))
	return nil
}

// writeNumberText: integers as the server parses them (exactly, within the safe range),
// anything with a fraction or exponent as an IEEE 754 double.
func writeNumberText(b *bytes.Buffer, text string) error {
	if !strings.ContainsAny(text, ".eE") {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return fmt.Errorf("%s exceeds the safe integer range of JSON numbers", text)
		}
		return writeInt(b, n)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return fmt.Errorf("not a JSON number: %s", text)
	}
	return writeFloat(b, f)
}

// writeFloat writes ECMAScript's Number-to-String of f, which is JCS's number form.
func writeFloat(b *bytes.Buffer, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("not a JSON number: %v", f)
	}
	abs := math.Abs(f)
	// encoding/json writes these as integers, which the server refuses beyond 2^53 - 1.
	if abs == math.Trunc(abs) && abs > maxSafeInteger && abs < 1e21 {
		return fmt.Errorf("%v exceeds the safe integer range of JSON numbers", f)
	}
	if f == 0 {
		b.WriteString("0") // and -0
		return nil
	}
	if abs >= 1e-6 && abs < 1e21 {
		b.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
		return nil
	}
	// Go writes 1e-07 and 1e+21; ECMAScript writes 1e-7 and 1e+21.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mantissa, exp, _ := strings.Cut(s, "e")
	sign, digits := exp[:1], strings.TrimLeft(exp[1:], "0")
	b.WriteString(mantissa + "e" + sign + digits)
	return nil
}

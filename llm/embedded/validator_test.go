package embedded_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// validate checks doc against schema for the subset of JSON Schema the
// embedded model promises (type, properties, required,
// additionalProperties, items, minItems, maxItems, uniqueItems, enum,
// const, minLength, maxLength, format, minimum, maximum, exclusive bounds,
// multipleOf, anyOf, oneOf, allOf, $ref). It is written apart from the
// generator, from the specification, so the two check each other.
func validate(schema, doc []byte) error {
	var s, d any
	if err := decode(schema, &s); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if err := decode(doc, &d); err != nil {
		return fmt.Errorf("document %q: %w", doc, err)
	}
	v := validator{root: s}
	return v.check(s, d, "$")
}

func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

type validator struct{ root any }

func (v validator) check(schema, doc any, at string) error {
	switch s := schema.(type) {
	case bool:
		if !s {
			return fmt.Errorf("%s: false schema", at)
		}
		return nil
	case map[string]any:
		return v.object(s, doc, at)
	}
	return fmt.Errorf("%s: bad schema %v", at, schema)
}

func num(x any) (float64, bool) {
	n, ok := x.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func typeMatches(t string, doc any) bool {
	switch t {
	case "object":
		_, ok := doc.(map[string]any)
		return ok
	case "array":
		_, ok := doc.([]any)
		return ok
	case "string":
		_, ok := doc.(string)
		return ok
	case "number":
		_, ok := num(doc)
		return ok
	case "integer":
		f, ok := num(doc)
		return ok && f == math.Trunc(f)
	case "boolean":
		_, ok := doc.(bool)
		return ok
	case "null":
		return doc == nil
	}
	return false
}

// equal compares JSON values, numbers by value.
func equal(a, b any) bool {
	fa, oka := num(a)
	fb, okb := num(b)
	if oka || okb {
		return oka && okb && fa == fb
	}
	switch a := a.(type) {
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k := range a {
			if !equal(a[k], b[k]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func formatOK(f, s string) bool {
	switch f {
	case "date-time":
		_, err := time.Parse(time.RFC3339, s)
		return err == nil
	case "date":
		_, err := time.Parse(time.DateOnly, s)
		return err == nil
	case "time":
		_, err := time.Parse("15:04:05Z07:00", s)
		return err == nil
	case "email":
		a, err := mail.ParseAddress(s)
		return err == nil && a.Address == s
	case "uri", "url":
		u, err := url.Parse(s)
		return err == nil && u.Scheme != "" && u.Host != ""
	case "uuid":
		return uuidRE.MatchString(s)
	case "ipv4":
		return regexp.MustCompile(`^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$`).MatchString(s)
	case "hostname":
		return regexp.MustCompile(`^[a-z0-9]+(\.[a-z0-9]+)+$`).MatchString(s)
	}
	return true
}

func (v validator) object(s map[string]any, doc any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		target, err := v.resolve(ref)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if err := v.check(target, doc, at); err != nil {
			return err
		}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, e := range t {
				types = append(types, e.(string))
			}
		}
		ok := false
		for _, t := range types {
			ok = ok || typeMatches(t, doc)
		}
		if !ok {
			return fmt.Errorf("%s: %v is not of type %v", at, doc, types)
		}
	}
	if c, ok := s["const"]; ok && !equal(c, doc) {
		return fmt.Errorf("%s: %v is not the const %v", at, doc, c)
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, x := range e {
			found = found || equal(x, doc)
		}
		if !found {
			return fmt.Errorf("%s: %v is not in the enum %v", at, doc, e)
		}
	}
	if branches, ok := s["anyOf"].([]any); ok {
		n := 0
		for _, b := range branches {
			if v.check(b, doc, at) == nil {
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("%s: matches no anyOf branch", at)
		}
	}
	if branches, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, b := range branches {
			if v.check(b, doc, at) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d oneOf branches", at, n)
		}
	}
	if branches, ok := s["allOf"].([]any); ok {
		for _, b := range branches {
			if err := v.check(b, doc, at); err != nil {
				return err
			}
		}
	}
	switch d := doc.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, k := range req {
				if _, ok := d[k.(string)]; !ok {
					return fmt.Errorf("%s: required %q missing", at, k)
				}
			}
		}
		for k, x := range d {
			if ps, ok := props[k]; ok {
				if err := v.check(ps, x, at+"."+k); err != nil {
					return err
				}
				continue
			}
			if extra, ok := s["additionalProperties"]; ok {
				if err := v.check(extra, x, at+"."+k); err != nil {
					return fmt.Errorf("%s: additional property %q: %w", at, k, err)
				}
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, x := range d {
				if err := v.check(items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
		if lo, ok := num(s["minItems"]); ok && float64(len(d)) < lo {
			return fmt.Errorf("%s: %d items, fewer than %v", at, len(d), lo)
		}
		if hi, ok := num(s["maxItems"]); ok && float64(len(d)) > hi {
			return fmt.Errorf("%s: %d items, more than %v", at, len(d), hi)
		}
		if u, _ := s["uniqueItems"].(bool); u {
			for i := range d {
				for j := range i {
					if equal(d[i], d[j]) {
						return fmt.Errorf("%s: items %d and %d are equal", at, j, i)
					}
				}
			}
		}
	case string:
		n := float64(utf8.RuneCountInString(d))
		if lo, ok := num(s["minLength"]); ok && n < lo {
			return fmt.Errorf("%s: %q is shorter than %v", at, d, lo)
		}
		if hi, ok := num(s["maxLength"]); ok && n > hi {
			return fmt.Errorf("%s: %q is longer than %v", at, d, hi)
		}
		if f, ok := s["format"].(string); ok && !formatOK(f, d) {
			return fmt.Errorf("%s: %q is not a %s", at, d, f)
		}
	case json.Number:
		f, _ := num(d)
		if lo, ok := num(s["minimum"]); ok && f < lo {
			return fmt.Errorf("%s: %v < minimum %v", at, f, lo)
		}
		if hi, ok := num(s["maximum"]); ok && f > hi {
			return fmt.Errorf("%s: %v > maximum %v", at, f, hi)
		}
		if lo, ok := num(s["exclusiveMinimum"]); ok && f <= lo {
			return fmt.Errorf("%s: %v <= exclusiveMinimum %v", at, f, lo)
		}
		if hi, ok := num(s["exclusiveMaximum"]); ok && f >= hi {
			return fmt.Errorf("%s: %v >= exclusiveMaximum %v", at, f, hi)
		}
		if m, ok := num(s["multipleOf"]); ok && f/m != math.Trunc(f/m) {
			return fmt.Errorf("%s: %v is not a multiple of %v", at, f, m)
		}
	}
	return nil
}

func (v validator) resolve(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("non-local $ref %q", ref)
	}
	cur := v.root
	if rest == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(rest, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return cur, nil
}

// TestValidator makes sure the validator rejects what it must, so a green
// schema test means something.
func TestValidator(t *testing.T) {
	for i, tc := range []struct {
		schema, doc string
		ok          bool
	}{
		{`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`, `{"a":1}`, true},
		{`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`, `{}`, false},
		{`{"type":"object","properties":{"a":{"type":"integer"}}}`, `{"a":1.5}`, false},
		{`{"type":"object","additionalProperties":false}`, `{"x":1}`, false},
		{`{"type":"array","items":{"type":"string"},"minItems":2}`, `["a"]`, false},
		{`{"type":"array","maxItems":1}`, `[1,2]`, false},
		{`{"type":"array","uniqueItems":true}`, `[1,1]`, false},
		{`{"type":"string","minLength":3}`, `"ab"`, false},
		{`{"type":"string","maxLength":3}`, `"abcd"`, false},
		{`{"type":"string","maxLength":3}`, `"äöü"`, true},
		{`{"enum":["a","b"]}`, `"c"`, false},
		{`{"const":{"a":[1]}}`, `{"a":[1.0]}`, true},
		{`{"const":3}`, `4`, false},
		{`{"type":"integer","minimum":1,"maximum":3}`, `4`, false},
		{`{"type":"number","exclusiveMinimum":1}`, `1`, false},
		{`{"type":"number","exclusiveMaximum":1}`, `0.5`, true},
		{`{"type":"integer","multipleOf":3}`, `7`, false},
		{`{"anyOf":[{"type":"string"},{"type":"null"}]}`, `null`, true},
		{`{"anyOf":[{"type":"string"},{"type":"null"}]}`, `1`, false},
		{`{"oneOf":[{"type":"number"},{"type":"integer"}]}`, `1`, false},
		{`{"$defs":{"x":{"type":"boolean"}},"$ref":"#/$defs/x"}`, `"no"`, false},
		{`{"type":["string","null"]}`, `null`, true},
		{`{"type":"string","format":"date-time"}`, `"yesterday"`, false},
		{`{"type":"string","format":"email"}`, `"a@example.com"`, true},
		{`false`, `1`, false},
	} {
		if err := validate([]byte(tc.schema), []byte(tc.doc)); (err == nil) != tc.ok {
			t.Errorf("#%d validate(%s, %s) = %v, want ok=%v", i, tc.schema, tc.doc, err, tc.ok)
		}
	}
}

package embedded_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
)

func schemaRequest(schema string, seed *int64) llm.Request {
	req := llm.Prompt("Describe a character.")
	req.Settings.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "doc", Schema: json.RawMessage(schema)}
	req.Settings.Seed = seed
	return req
}

var schemaTable = []struct {
	name   string
	schema string
	varies bool // holds free text or a wide choice, so seeds change it
}{
	{"string", `{"type":"string"}`, true},
	{"short string", `{"type":"string","minLength":2,"maxLength":5}`, true},
	{"long string", `{"type":"string","minLength":200}`, true},
	{"empty string", `{"type":"string","maxLength":0}`, false},
	{"one-rune string", `{"type":"string","minLength":1,"maxLength":1}`, true},
	{"integer", `{"type":"integer"}`, true},
	{"bounded integer", `{"type":"integer","minimum":-3,"maximum":3}`, false},
	{"exclusive integer", `{"type":"integer","exclusiveMinimum":4,"exclusiveMaximum":6}`, false},
	{"draft 4 exclusive", `{"type":"integer","minimum":4,"exclusiveMinimum":true,"maximum":5}`, false},
	{"multiple", `{"type":"integer","minimum":10,"maximum":1000,"multipleOf":7}`, true},
	{"number", `{"type":"number","minimum":0.5,"maximum":0.75}`, true},
	{"tight number", `{"type":"number","minimum":0.123456,"maximum":0.123457}`, true},
	{"exclusive number", `{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":0.001}`, true},
	{"huge bounds", `{"type":"integer","minimum":-1e300,"maximum":1e300}`, true},
	{"boolean", `{"type":"boolean"}`, false},
	{"null", `{"type":"null"}`, false},
	{"nullable", `{"type":["string","null"]}`, true},
	{"enum", `{"enum":["red","green",3,null,{"a":1}]}`, false},
	{"const", `{"const":{"k":[1,"two",true]}}`, false},
	{"any", `{}`, true},
	{"true", `true`, true},
	{"formats", `{"type":"object","properties":{
		"when":{"type":"string","format":"date-time"},"day":{"type":"string","format":"date"},
		"at":{"type":"string","format":"time"},"mail":{"type":"string","format":"email"},
		"site":{"type":"string","format":"uri"},"id":{"type":"string","format":"uuid"},
		"ip":{"type":"string","format":"ipv4"},"host":{"type":"string","format":"hostname"}},
		"required":["when","day","at","mail","site","id","ip","host"],"additionalProperties":false}`, true},
	{"weather tool", `{"type":"object","properties":{
		"city":{"type":"string","description":"The city"},
		"unit":{"type":"string","enum":["celsius","fahrenheit"]},
		"days":{"type":"integer","minimum":1,"maximum":7}},
		"required":["city","unit"],"additionalProperties":false}`, true},
	{"array", `{"type":"array","items":{"type":"integer","minimum":0,"maximum":9},"minItems":3,"maxItems":5}`, true},
	{"empty array", `{"type":"array","maxItems":0}`, false},
	{"unique", `{"type":"array","items":{"type":"string"},"minItems":6,"uniqueItems":true}`, true},
	{"unique booleans", `{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":2,"uniqueItems":true}`, false},
	{"implied types", `{"properties":{"a":{"minLength":3},"b":{"items":{"minimum":1}},"c":{"maximum":-5}},"required":["a","b","c"]}`, true},
	{"required not in properties", `{"type":"object","required":["x"],"additionalProperties":{"type":"integer"}}`, true},
	{"anyOf", `{"anyOf":[{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]},{"type":"null"}]}`, true},
	{"oneOf", `{"oneOf":[{"type":"boolean"},{"type":"string"}]}`, false},
	{"allOf of one", `{"allOf":[{"type":"string","maxLength":4}]}`, true},
	{"defs", `{"$defs":{"point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"],"additionalProperties":false}},
		"type":"object","properties":{"from":{"$ref":"#/$defs/point"},"to":{"$ref":"#/$defs/point"}},"required":["from","to"]}`, true},
	{"definitions", `{"definitions":{"a/b":{"type":"string","enum":["x","y"]}},"type":"array","items":{"$ref":"#/definitions/a~1b"},"minItems":4}`, true},
	{"recursive tree", `{"type":"object","properties":{"name":{"type":"string"},
		"children":{"type":"array","items":{"$ref":"#"}}},"required":["name"]}`, true},
	{"nested", `{"type":"object","properties":{"user":{"type":"object","properties":{
		"name":{"type":"string","minLength":1},"tags":{"type":"array","items":{"type":"string","maxLength":12},"maxItems":3},
		"address":{"type":"object","properties":{"street":{"type":"string"},"zip":{"type":"string","minLength":5,"maxLength":5}},"required":["street","zip"]}},
		"required":["name","tags","address"]}},"required":["user"]}`, true},
	{"anyOf beside properties", `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"],
		"anyOf":[{"properties":{"b":{"maxLength":3}},"required":["b"]},{"required":["c"]}]}`, true},
	{"$ref beside keywords", `{"$defs":{"s":{"type":"string"}},"type":"object","properties":{"x":{"$ref":"#/$defs/s","maxLength":2},
		"required":{"type":"boolean"}},"required":["x","required"]}`, true},
	{"nullable ref", `{"$defs":{"n":{"type":"integer","minimum":5,"maximum":5}},"anyOf":[{"$ref":"#/$defs/n"},{"type":"null"}]}`, false},
	{"enum of the type", `{"type":"string","enum":[1,"one",null,"uno"]}`, true},
	{"integer enum", `{"type":"integer","enum":[1.5,2,"3"]}`, false},
	{"quotes and escapes", `{"type":"object","properties":{"a \"quoted\"\\key\n":{"const":"tab\there"}},"required":["a \"quoted\"\\key\n"]}`, false},
}

func TestJSONSchema(t *testing.T) {
	p := unpaced(t, 64)
	for _, tc := range schemaTable {
		t.Run(tc.name, func(t *testing.T) {
			a := collect(t, p, schemaRequest(tc.schema, nil))
			if a.final.FinishReason != llm.FinishStop {
				t.Fatalf("finish %s, want stop", a.final.FinishReason)
			}
			if err := validate([]byte(tc.schema), []byte(a.text)); err != nil {
				t.Fatalf("%s\ninvalid: %v", a.text, err)
			}
			if a.final.Usage.CompletionTokens != len(a.chunks) {
				t.Errorf("usage %d tokens for %d pieces", a.final.Usage.CompletionTokens, len(a.chunks))
			}
			if b := collect(t, p, schemaRequest(tc.schema, nil)).text; b != a.text {
				t.Fatalf("not deterministic:\n%s\n%s", a.text, b)
			}
			docs := map[string]bool{}
			for _, seed := range []int64{1, 2, 3, 4} {
				d := collect(t, p, schemaRequest(tc.schema, ptr(seed))).text
				if err := validate([]byte(tc.schema), []byte(d)); err != nil {
					t.Fatalf("seed %d: %s\ninvalid: %v", seed, d, err)
				}
				docs[d] = true
			}
			if tc.varies && len(docs) < 2 {
				t.Errorf("seeds 1-4 all gave %s", a.text)
			}
		})
	}
}

func TestJSONStreamsInPieces(t *testing.T) {
	p := unpaced(t, 64)
	a := collect(t, p, schemaRequest(schemaTable[22].schema, nil)) // the weather tool
	if len(a.chunks) < 8 {
		t.Fatalf("%d pieces: %q", len(a.chunks), a.chunks)
	}
	t.Logf("%q", a.chunks)
}

func TestJSONObject(t *testing.T) {
	p := unpaced(t, 64)
	req := llm.Prompt("Answer in JSON.")
	req.Settings.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject}
	a := collect(t, p, req)
	var doc map[string]any
	if err := json.Unmarshal([]byte(a.text), &doc); err != nil || len(doc) == 0 {
		t.Fatalf("%q: %v, want a non-empty JSON object", a.text, err)
	}
	req.Settings.Seed = ptr(int64(7))
	if b := collect(t, p, req).text; b == a.text {
		t.Fatalf("seed 7 gave the same document %s", b)
	}
	// Plain text is the default answer.
	req = llm.Prompt("Answer in JSON.")
	req.Settings.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatText}
	if got, want := collect(t, p, req).text, collect(t, p, llm.Prompt("Answer in JSON.")).text; got != want {
		t.Fatalf("response_format text: %q, want %q", got, want)
	}
}

func TestJSONCap(t *testing.T) {
	p := unpaced(t, 64)
	req := schemaRequest(schemaTable[22].schema, nil)
	full := collect(t, p, req)
	req.MaxTokens = 3
	a := collect(t, p, req)
	if len(a.chunks) != 3 || a.final.FinishReason != llm.FinishLength || !strings.HasPrefix(full.text, a.text) {
		t.Fatalf("capped at 3: %q, %s; full %q", a.chunks, a.final.FinishReason, full.text)
	}
	// The document is not cut by Config.Tokens, only by the request.
	small := collect(t, unpaced(t, 2), schemaRequest(schemaTable[22].schema, nil))
	if small.text != full.text || small.final.FinishReason != llm.FinishStop {
		t.Fatalf("with Config.Tokens 2: %q, %s", small.text, small.final.FinishReason)
	}
}

func TestSchemaRefused(t *testing.T) {
	p := unpaced(t, 64)
	for _, tc := range []struct{ name, schema string }{
		{"pattern", `{"type":"string","pattern":"^[a-z]+$"}`},
		{"not", `{"not":{"type":"string"}}`},
		{"allOf of two", `{"allOf":[{"type":"string"},{"maxLength":3}]}`},
		{"prefixItems", `{"type":"array","prefixItems":[{"type":"string"}]}`},
		{"tuple items", `{"type":"array","items":[{"type":"string"}]}`},
		{"minProperties", `{"type":"object","minProperties":2}`},
		{"nested pattern", `{"type":"object","properties":{"a":{"type":"array","items":{"pattern":"x"}}}}`},
		{"false", `false`},
		{"false property", `{"type":"object","properties":{"a":false}}`},
		{"maxLength below minLength", `{"type":"string","minLength":3,"maxLength":2}`},
		{"maxItems below minItems", `{"type":"array","minItems":3,"maxItems":2}`},
		{"no integer between", `{"type":"integer","minimum":0.2,"maximum":0.8}`},
		{"no number between", `{"type":"number","exclusiveMinimum":1,"exclusiveMaximum":1}`},
		{"fractional multipleOf", `{"type":"number","multipleOf":0.5}`},
		{"required recursion", `{"type":"object","properties":{"next":{"$ref":"#"}},"required":["next"]}`},
		{"remote ref", `{"$ref":"https://example.com/schema.json"}`},
		{"missing ref", `{"$ref":"#/$defs/nope"}`},
		{"unknown type", `{"type":"date"}`},
		{"required but closed", `{"type":"object","required":["x"],"additionalProperties":false}`},
		{"empty enum", `{"enum":[]}`},
		{"no enum value of the type", `{"type":"boolean","enum":[1,"true"]}`},
		{"const of another type", `{"type":"string","const":1}`},
		{"false branch", `{"anyOf":[false,{"type":"string"}]}`},
		{"too few unique", `{"type":"array","items":{"type":"boolean"},"minItems":3,"uniqueItems":true}`},
		{"format too long", `{"type":"string","format":"uuid","maxLength":10}`},
		{"not a schema", `[1]`},
		{"too large", `{"$defs":{"a":{"type":"array","items":{"$ref":"#/$defs/b"},"minItems":1000},
			"b":{"type":"array","items":{"type":"integer"},"minItems":1000}},"$ref":"#/$defs/a"}`},
		{"too costly", `{"$defs":{"u":{"type":"array","uniqueItems":true,"minItems":3,"maxItems":3,"items":{"$ref":"#/$defs/v"}},
			"v":{"type":"array","uniqueItems":true,"minItems":2,"maxItems":2,"items":{"$ref":"#/$defs/w"}},
			"w":{"type":"array","uniqueItems":true,"minItems":2,"maxItems":2,"items":{"$ref":"#/$defs/x"}},
			"x":{"type":"array","uniqueItems":true,"minItems":2,"maxItems":2,"items":{"$ref":"#/$defs/y"}},
			"y":{"type":"array","uniqueItems":true,"minItems":2,"maxItems":2,"items":{"$ref":"#/$defs/z"}},
			"z":{"type":"array","uniqueItems":true,"minItems":2,"maxItems":2,"items":{"enum":[1,2]}}},
			"type":"array","uniqueItems":true,"minItems":2,"items":{"$ref":"#/$defs/u"}}`},
		{"too long", `{"type":"string","minLength":1000000}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := llm.Check(p, schemaRequest(tc.schema, nil)); !errors.Is(err, embedded.ErrSchema) || !errors.Is(err, llm.ErrInvalidRequest) {
				t.Fatalf("Check = %v, want ErrSchema and llm.ErrInvalidRequest", err)
			}
			_, err := p.Stream(t.Context(), schemaRequest(tc.schema, nil))
			if !errors.Is(err, embedded.ErrSchema) || !errors.Is(err, llm.ErrInvalidRequest) {
				t.Fatalf("Stream = %v, want ErrSchema and llm.ErrInvalidRequest", err)
			}
		})
	}
}

// FuzzSchemaBytes feeds any bytes as a schema: the model refuses them or
// answers with JSON, and never panics or hangs.
func FuzzSchemaBytes(f *testing.F) {
	for _, tc := range schemaTable {
		f.Add([]byte(tc.schema))
	}
	f.Add([]byte(`{"$ref":"#"}`))
	f.Add([]byte(`{"anyOf":[{"$ref":"#"}]}`))
	f.Add([]byte(`{"type":"array","items":{"$ref":"#"},"minItems":2}`))
	p := unpaced(f, 64)
	f.Fuzz(func(t *testing.T, schema []byte) {
		if !json.Valid(schema) {
			return // llm.Settings.Validate refuses it before
		}
		req := schemaRequest(string(schema), nil)
		s, err := p.Stream(t.Context(), req)
		if err != nil {
			if !errors.Is(err, llm.ErrInvalidRequest) {
				t.Fatalf("Stream = %v, want llm.ErrInvalidRequest", err)
			}
			return
		}
		s.Close()
		if a := collect(t, p, req); !json.Valid([]byte(a.text)) {
			t.Fatalf("schema %s: invalid JSON %q", schema, a.text)
		}
	})
}

// randomSchema builds a satisfiable schema of the supported subset. defs
// are schemas that $ref may point to.
func randomSchema(r *rand.Rand, depth int, defs []string) map[string]any {
	kinds := []string{"string", "integer", "number", "boolean", "null", "enum", "const"}
	if depth < 4 {
		kinds = append(kinds, "object", "object", "array", "array", "anyOf", "oneOf", "nullable")
		if len(defs) > 0 {
			kinds = append(kinds, "ref")
		}
	}
	switch kinds[r.IntN(len(kinds))] {
	case "string":
		s := map[string]any{"type": "string"}
		lo := r.IntN(20)
		if r.IntN(2) == 0 {
			s["minLength"] = lo
		}
		if r.IntN(2) == 0 {
			s["maxLength"] = lo + r.IntN(20)
		}
		if r.IntN(6) == 0 {
			s = map[string]any{"type": "string", "format": []string{"date-time", "date", "email", "uri", "uuid"}[r.IntN(5)]}
		}
		return s
	case "integer", "number":
		s := map[string]any{"type": "integer"}
		if r.IntN(2) == 0 {
			s["type"] = "number"
		}
		lo := r.IntN(2000) - 1000
		if r.IntN(2) == 0 {
			s["minimum"] = lo
		} else if r.IntN(2) == 0 {
			s["exclusiveMinimum"] = lo
		}
		if r.IntN(2) == 0 {
			s["maximum"] = lo + 2 + r.IntN(1000)
		} else if r.IntN(2) == 0 {
			s["exclusiveMaximum"] = lo + 2 + r.IntN(1000)
		}
		if r.IntN(4) == 0 {
			s["multipleOf"] = 1 + r.IntN(3)
		}
		return s
	case "boolean":
		return map[string]any{"type": "boolean"}
	case "null":
		return map[string]any{"type": "null"}
	case "enum":
		return map[string]any{"enum": []any{"a", 1, true, nil, []any{1}, map[string]any{"k": "v"}}[:1+r.IntN(6)]}
	case "const":
		return map[string]any{"const": []any{"x", 2.5, false, nil, map[string]any{"a": []any{}}}[r.IntN(5)]}
	case "nullable":
		return map[string]any{"type": []any{"string", "null"}, "maxLength": r.IntN(10)}
	case "ref":
		return map[string]any{"$ref": "#/$defs/" + defs[r.IntN(len(defs))]}
	case "anyOf":
		return map[string]any{"anyOf": []any{randomSchema(r, depth+1, defs), randomSchema(r, depth+1, defs)}}
	case "oneOf":
		// Branches of different kinds, so exactly one matches.
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "boolean"},
			map[string]any{"type": "object", "properties": map[string]any{"n": randomSchema(r, depth+1, defs)}, "required": []any{"n"}},
		}[:1+r.IntN(2)]}
	case "object":
		props := map[string]any{}
		var required []any
		for i := range r.IntN(5) {
			k := fmt.Sprintf("p%d", i)
			props[k] = randomSchema(r, depth+1, defs)
			if r.IntN(2) == 0 {
				required = append(required, k)
			}
		}
		s := map[string]any{"type": "object", "properties": props}
		if required != nil {
			s["required"] = required
		}
		if r.IntN(2) == 0 {
			s["additionalProperties"] = false
		}
		return s
	default: // array
		s := map[string]any{"type": "array", "items": randomSchema(r, depth+1, defs)}
		lo := r.IntN(4)
		if r.IntN(2) == 0 {
			s["minItems"] = lo
		}
		if r.IntN(2) == 0 {
			s["maxItems"] = lo + r.IntN(4)
		}
		return s
	}
}

func FuzzJSONSchema(f *testing.F) {
	for i := range uint64(8) {
		f.Add(i, int64(i))
	}
	p := unpaced(f, 64)
	f.Fuzz(func(t *testing.T, schemaSeed uint64, seed int64) {
		r := rand.New(rand.NewPCG(schemaSeed, 7))
		defs := map[string]any{}
		var names []string
		for i := range r.IntN(3) {
			name := fmt.Sprintf("d%d", i)
			defs[name] = randomSchema(r, 2, names)
			names = append(names, name)
		}
		schema := randomSchema(r, 0, names)
		if len(defs) > 0 {
			schema["$defs"] = defs
		}
		b, err := json.Marshal(schema)
		if err != nil {
			t.Fatal(err)
		}
		a := collect(t, p, schemaRequest(string(b), ptr(seed)))
		if err := validate(b, []byte(a.text)); err != nil {
			t.Fatalf("schema %s\ndocument %s\n%v", b, a.text, err)
		}
	})
}

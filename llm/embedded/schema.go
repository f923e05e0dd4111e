package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonObjectSchema is the document a json_object answer follows.
const jsonObjectSchema = `{"type":"object","properties":{"answer":{"type":"string","minLength":24}},"required":["answer"]}`

const (
	// Past shallowDepth objects get only their required properties and
	// arrays only minItems items, so recursive schemas end.
	shallowDepth = 8
	// maxDepth refuses schemas that cannot end (a required property that
	// refers back to its object).
	maxDepth = 64
	// maxPieces bounds a document, so a small schema cannot ask for a
	// huge one (nested minItems).
	maxPieces = 1 << 16
	// maxWork bounds the values generated, counting those uniqueItems
	// retries throw away, so nested uniqueItems cannot take forever.
	maxWork = 1 << 18
	// maxRange bounds numbers to what a float64 holds exactly.
	maxRange = 1 << 53
)

// unsupported are the validation keywords the generator cannot promise to
// satisfy; a schema using one is refused rather than answered with a
// document that may not be valid. Keywords that only annotate (title,
// description, default, examples, $schema, $id, $comment, ...) are ignored.
var unsupported = []string{
	"pattern", "patternProperties", "not", "if", "then", "else", "prefixItems",
	"contains", "minContains", "maxContains", "dependentRequired",
	"dependentSchemas", "dependencies", "minProperties", "maxProperties",
	"propertyNames", "unevaluatedProperties", "unevaluatedItems",
	"additionalItems", "$dynamicRef", "$recursiveRef",
}

// document generates a compact JSON document valid for schema, as the
// pieces it is streamed in (a structural token, a key, a word of a string),
// with the log probability of each piece.
// Its strings are walks of the Markov chain, so it reads as generated
// and changes with the seed.
func (s *stream) document(schema []byte) ([]string, []float64, error) {
	root, err := parseJSON(schema)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrSchema, err)
	}
	g := &gen{w: &s.walker, root: root}
	if err := g.value(root, "#", 0); err != nil {
		return nil, nil, err
	}
	return g.pieces, g.lps, nil
}

// object is a JSON object that keeps its keys in order, so documents follow
// the schema's property order.
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.vals[k]
	return v, ok
}

// parseJSON decodes b into nil, bool, json.Number, string, []any and
// *object values.
func parseJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the schema")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		o := &object{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k := kt.(string) // the decoder only yields string keys
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := o.vals[k]; !dup {
				o.keys = append(o.keys, k)
			}
			o.vals[k] = v
		}
		_, err = dec.Token()
		return o, err
	default: // '['
		a := []any{}
		for dec.More() {
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err = dec.Token()
		return a, err
	}
}

// encode writes v compactly, keys in their order.
func encode(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case json.Number:
		b.WriteString(v.String())
	case string:
		b.WriteString(quote(v))
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			encode(b, e)
		}
		b.WriteByte(']')
	case *object:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quote(k))
			b.WriteByte(':')
			encode(b, v.vals[k])
		}
		b.WriteByte('}')
	}
}

// quote returns s as a JSON string.
func quote(s string) string { return `"` + escape(s) + `"` }

// escape escapes s for the inside of a JSON string. Escaping works rune by
// rune, so the pieces of a string can be escaped one by one.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// gen generates one document.
type gen struct {
	w      *walker
	root   any
	pieces []string
	// lps[i] is the log probability the generator had of writing
	// pieces[i]: the sum of its choices since the piece before (a word of
	// the walk, an enum value, a number, an array's length). Forced pieces
	// have 0. lp accumulates the choices of the next piece.
	lps  []float64
	lp   float64
	work int // values generated, with the ones uniqueItems threw away
}

func (g *gen) emit(p string) {
	g.pieces = append(g.pieces, p)
	g.lps = append(g.lps, g.lp)
	g.lp = 0
}

// intn draws uniformly from [0, n) and counts the choice.
func (g *gen) intn(n int) int {
	g.lp -= math.Log(float64(n))
	return g.w.rng.IntN(n)
}

func (g *gen) int64n(n int64) int64 {
	g.lp -= math.Log(float64(n))
	return g.w.rng.Int64N(n)
}

func schemaErr(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrSchema, path, fmt.Sprintf(format, args...))
}

// value emits a value valid for sch, found at path.
func (g *gen) value(sch any, path string, depth int) error {
	g.work++
	if len(g.pieces) > maxPieces || g.work > maxWork {
		return schemaErr(path, "the document would exceed %d pieces", maxPieces)
	}
	if depth > maxDepth {
		return schemaErr(path, "nested deeper than %d (a required recursive $ref?)", maxDepth)
	}
	var sc *object
	switch v := sch.(type) {
	case bool:
		if !v {
			return schemaErr(path, "false admits no value")
		}
		return g.str(nil, path)
	case *object:
		sc = v
	default:
		return schemaErr(path, "a schema must be an object or a boolean")
	}
	for _, k := range unsupported {
		if _, ok := sc.get(k); ok {
			return schemaErr(path, "keyword %q is not supported", k)
		}
	}
	// A $ref, or the first branch of anyOf, oneOf or a one-schema allOf,
	// is merged with the keywords beside it, which apply as well.
	if ref, ok := sc.get("$ref"); ok {
		r, ok := ref.(string)
		if !ok {
			return schemaErr(path, "$ref must be a string")
		}
		target, err := g.resolve(r)
		if err != nil {
			return schemaErr(path, "%v", err)
		}
		merged, err := merge(sc, "$ref", target, r)
		if err != nil {
			return err
		}
		return g.value(merged, r, depth+1)
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		v, ok := sc.get(k)
		if !ok {
			continue
		}
		branches, ok := v.([]any)
		if !ok || len(branches) == 0 {
			return schemaErr(path, "%s must be a non-empty array", k)
		}
		if k == "allOf" && len(branches) > 1 {
			return schemaErr(path, "allOf with more than one schema is not supported")
		}
		// The first branch; the generator does not check that a oneOf
		// document matches no other branch.
		merged, err := merge(sc, k, branches[0], path+"/"+k+"/0")
		if err != nil {
			return err
		}
		return g.value(merged, path+"/"+k+"/0", depth+1)
	}
	want, err := typeOf(sc, path)
	if err != nil {
		return err
	}
	if c, ok := sc.get("const"); ok {
		if !isType(c, want) {
			return schemaErr(path, "const is not of the schema's type %q", want)
		}
		var b strings.Builder
		encode(&b, c)
		g.emit(b.String())
		return nil
	}
	if e, ok := sc.get("enum"); ok {
		vals, ok := e.([]any)
		if !ok || len(vals) == 0 {
			return schemaErr(path, "enum must be a non-empty array")
		}
		var fit []any
		for _, v := range vals {
			if isType(v, want) {
				fit = append(fit, v)
			}
		}
		if len(fit) == 0 {
			return schemaErr(path, "no enum value is of the schema's type %q", want)
		}
		var b strings.Builder
		encode(&b, fit[g.intn(len(fit))])
		g.emit(b.String())
		return nil
	}
	switch want {
	case "object":
		return g.object(sc, path, depth)
	case "array":
		return g.array(sc, path, depth)
	case "string":
		return g.str(sc, path)
	case "integer":
		return g.integer(sc, path)
	case "number":
		return g.number(sc, path)
	case "boolean":
		g.emit(strconv.FormatBool(g.intn(2) == 1))
		return nil
	case "null":
		g.emit("null")
		return nil
	default:
		return g.str(nil, path) // any value will do
	}
}

// isType reports whether v is of type t ("" is any type; a list of types
// counts as its first but null, as typeOf says).
func isType(v any, t string) bool {
	switch v := v.(type) {
	case nil:
		return t == "" || t == "null"
	case bool:
		return t == "" || t == "boolean"
	case string:
		return t == "" || t == "string"
	case json.Number:
		f, err := v.Float64()
		return t == "" || t == "number" || (t == "integer" && err == nil && f == math.Trunc(f))
	case []any:
		return t == "" || t == "array"
	case *object:
		return t == "" || t == "object"
	}
	return false
}

// merge returns base without the keyword drop, overlaid with branch's
// keywords: properties are merged, required lists joined, any other
// keyword of branch wins.
func merge(base *object, drop string, branch any, path string) (any, error) {
	var b *object
	switch v := branch.(type) {
	case bool:
		if !v {
			return nil, schemaErr(path, "false admits no value")
		}
	case *object:
		b = v
	default:
		return nil, schemaErr(path, "a schema must be an object or a boolean")
	}
	out := &object{vals: map[string]any{}}
	set := func(k string, v any) {
		if _, ok := out.vals[k]; !ok {
			out.keys = append(out.keys, k)
		}
		out.vals[k] = v
	}
	for _, k := range base.keys {
		if k != drop {
			set(k, base.vals[k])
		}
	}
	if b == nil {
		return out, nil
	}
	for _, k := range b.keys {
		v := b.vals[k]
		switch old := out.vals[k]; k {
		case "properties":
			po, ok1 := old.(*object)
			pn, ok2 := v.(*object)
			if ok1 && ok2 {
				m := &object{keys: slices.Clone(po.keys), vals: maps.Clone(po.vals)}
				for _, pk := range pn.keys {
					if _, ok := m.vals[pk]; !ok {
						m.keys = append(m.keys, pk)
					}
					m.vals[pk] = pn.vals[pk]
				}
				v = m
			}
		case "required":
			ro, ok1 := old.([]any)
			rn, ok2 := v.([]any)
			if ok1 && ok2 {
				v = append(slices.Clone(ro), rn...)
			}
		}
		set(k, v)
	}
	return out, nil
}

// typeOf returns the type sc asks for: its type (the first but null of a
// list), or the one its keywords imply, or "" for any.
func typeOf(sc *object, path string) (string, error) {
	if t, ok := sc.get("type"); ok {
		switch t := t.(type) {
		case string:
			return checkType(t, path)
		case []any:
			first := ""
			for _, e := range t {
				s, ok := e.(string)
				if !ok {
					return "?", schemaErr(path, "type must be a string or a list of strings")
				}
				if s != "null" && first == "" {
					first = s
				}
			}
			if first == "" && len(t) > 0 {
				first = "null"
			}
			return checkType(first, path)
		default:
			return "?", schemaErr(path, "type must be a string or a list of strings")
		}
	}
	has := func(ks ...string) bool {
		for _, k := range ks {
			if _, ok := sc.get(k); ok {
				return true
			}
		}
		return false
	}
	switch {
	case has("properties", "required", "additionalProperties"):
		return "object", nil
	case has("items", "minItems", "maxItems", "uniqueItems"):
		return "array", nil
	case has("minLength", "maxLength", "format"):
		return "string", nil
	case has("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
		return "number", nil
	}
	return "", nil
}

func checkType(t, path string) (string, error) {
	switch t {
	case "object", "array", "string", "integer", "number", "boolean", "null":
		return t, nil
	}
	return "?", schemaErr(path, "unknown type %q", t)
}

// resolve follows a local $ref: "#", "#/$defs/x", "#/definitions/x" or any
// JSON pointer into the schema.
func (g *gen) resolve(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local (only #/... is)", ref)
	}
	cur := g.root
	if rest == "" {
		return cur, nil
	}
	if rest[0] != '/' {
		return nil, fmt.Errorf("$ref %q is not a JSON pointer", ref)
	}
	for _, tok := range strings.Split(rest[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case *object:
			v, ok := c.get(tok)
			if !ok {
				return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
		}
	}
	return cur, nil
}

// intKeyword reads a non-negative integer keyword; def when absent.
func intKeyword(sc *object, k, path string, def int) (int, error) {
	v, ok := sc.get(k)
	if !ok {
		return def, nil
	}
	n, isNum := v.(json.Number)
	i, err := n.Int64()
	if !isNum || err != nil || i < 0 {
		return 0, schemaErr(path, "%s must be a non-negative integer", k)
	}
	return int(min(i, 1<<20)), nil
}

func (g *gen) object(sc *object, path string, depth int) error {
	var props *object
	if p, ok := sc.get("properties"); ok {
		if props, ok = p.(*object); !ok {
			return schemaErr(path, "properties must be an object")
		}
	}
	required := map[string]bool{}
	var reqList []string
	if r, ok := sc.get("required"); ok {
		list, ok := r.([]any)
		if !ok {
			return schemaErr(path, "required must be an array of strings")
		}
		for _, e := range list {
			k, ok := e.(string)
			if !ok {
				return schemaErr(path, "required must be an array of strings")
			}
			if !required[k] {
				required[k] = true
				reqList = append(reqList, k)
			}
		}
	}
	g.emit("{")
	n := 0
	key := func(k string) {
		if n > 0 {
			g.emit("," + quote(k) + ":")
		} else {
			g.emit(quote(k) + ":")
		}
		n++
	}
	if props != nil {
		for _, k := range props.keys {
			if depth > shallowDepth && !required[k] {
				continue
			}
			key(k)
			if err := g.value(props.vals[k], path+"/properties/"+k, depth+1); err != nil {
				return err
			}
		}
	}
	for _, k := range reqList {
		if _, ok := props.get(k); ok {
			continue
		}
		extra, ok := sc.get("additionalProperties")
		if !ok {
			extra = true
		}
		key(k)
		if err := g.value(extra, path+"/additionalProperties", depth+1); err != nil {
			return err
		}
	}
	g.emit("}")
	return nil
}

func (g *gen) array(sc *object, path string, depth int) error {
	items, ok := sc.get("items")
	if !ok {
		items = true
	}
	if _, tuple := items.([]any); tuple {
		return schemaErr(path, "items as an array (a tuple) is not supported")
	}
	lo, err := intKeyword(sc, "minItems", path, 0)
	if err != nil {
		return err
	}
	hi, err := intKeyword(sc, "maxItems", path, -1)
	if err != nil {
		return err
	}
	if hi < 0 {
		hi = max(lo, 1) + 2
	}
	if hi < lo {
		return schemaErr(path, "maxItems %d is below minItems %d", hi, lo)
	}
	n := lo
	if depth <= shallowDepth {
		n += g.intn(hi - lo + 1)
	}
	unique := false
	if u, ok := sc.get("uniqueItems"); ok {
		unique, _ = u.(bool)
	}
	seen := map[string]bool{}
	g.emit("[")
	for i := range n {
		if i > 0 {
			g.emit(",")
		}
		for try := 0; ; try++ {
			from, lp := len(g.pieces), g.lp
			if err := g.value(items, path+"/items", depth+1); err != nil {
				return err
			}
			if !unique {
				break
			}
			doc := strings.Join(g.pieces[from:], "")
			if !seen[doc] {
				seen[doc] = true
				break
			}
			if try == 16 {
				return schemaErr(path, "cannot find %d distinct items for uniqueItems", n)
			}
			g.pieces, g.lps, g.lp = g.pieces[:from], g.lps[:from], lp
		}
	}
	g.emit("]")
	return nil
}

// word returns the next word of the walk, without its surrounding quotes
// and brackets.
func (g *gen) word() string {
	w := g.w.chain.word(g.w.step(), false)
	g.lp += g.w.lp
	if t := strings.Trim(w, `'"()`); t != "" {
		return t
	}
	return w
}

// str emits a string for sc (nil: any string): some words of the walk,
// lengthened or cut to fit minLength and maxLength (counted in runes), or a
// value of a known format.
func (g *gen) str(sc *object, path string) error {
	lo, hi := 0, -1
	format := ""
	if sc != nil {
		var err error
		if lo, err = intKeyword(sc, "minLength", path, 0); err != nil {
			return err
		}
		if hi, err = intKeyword(sc, "maxLength", path, -1); err != nil {
			return err
		}
		if hi >= 0 && hi < lo {
			return schemaErr(path, "maxLength %d is below minLength %d", hi, lo)
		}
		if f, ok := sc.get("format"); ok {
			format, _ = f.(string)
		}
	}
	s, known := g.formatted(format)
	if known {
		if n := utf8.RuneCountInString(s); n < lo || (hi >= 0 && n > hi) {
			return schemaErr(path, "format %q does not fit the length bounds", format)
		}
		g.emit(quote(s))
		return nil
	}
	var b strings.Builder
	runes := 0
	for n := 2 + g.intn(5); n > 0 || runes < lo; n-- {
		if runes > maxPieces {
			return schemaErr(path, "the document would exceed %d pieces", maxPieces)
		}
		w := g.word()
		add := utf8.RuneCountInString(w)
		if b.Len() > 0 {
			add++
		}
		if hi >= 0 && runes+add > hi && runes >= lo && runes > 0 {
			break // the string fits without the word: no word cut in half
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		runes += add
		if hi >= 0 && runes >= hi {
			break
		}
	}
	s = b.String()
	if hi >= 0 && utf8.RuneCountInString(s) > hi {
		s = string([]rune(s)[:hi])
		if t := strings.TrimRight(s, " "); utf8.RuneCountInString(t) >= lo {
			s = t
		}
	}
	// One piece per word, the quotes on the first and the last.
	words := strings.SplitAfter(s, " ")
	for i, w := range words {
		p := escape(w)
		if i == 0 {
			p = `"` + p
		}
		if i == len(words)-1 {
			p += `"`
		}
		g.emit(p)
	}
	return nil
}

// formatted returns a value for a known string format.
func (g *gen) formatted(format string) (string, bool) {
	switch format {
	case "date-time":
		return fmt.Sprintf("2026-%02d-%02dT%02d:%02d:%02dZ", 1+g.intn(12), 1+g.intn(28), g.intn(24), g.intn(60), g.intn(60)), true
	case "date":
		return fmt.Sprintf("2026-%02d-%02d", 1+g.intn(12), 1+g.intn(28)), true
	case "time":
		return fmt.Sprintf("%02d:%02d:%02dZ", g.intn(24), g.intn(60), g.intn(60)), true
	case "email":
		return g.letters() + "@example.com", true
	case "uri", "url":
		return "https://example.com/" + g.letters(), true
	case "hostname":
		return g.letters() + ".example.com", true
	case "ipv4":
		return fmt.Sprintf("192.0.2.%d", 1+g.intn(254)), true // TEST-NET-1
	case "uuid":
		var b [16]byte
		for i := range b {
			b[i] = byte(g.intn(256))
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		g.lp += math.Log(16 * 4) // the version and variant bits are fixed
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), true
	}
	return "", false
}

// letters returns a lower-case word of the walk made of ASCII letters only.
func (g *gen) letters() string {
	for range 16 {
		w := strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z':
				return r
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			}
			return -1
		}, g.word())
		if w != "" {
			return w
		}
	}
	return "alice"
}

// bounds reads minimum, maximum and the exclusive ones (numbers, or draft
// 4's booleans). ok* say whether a bound was set.
type bounds struct {
	lo, hi         float64
	okLo, okHi     bool
	exclLo, exclHi bool
}

func readBounds(sc *object, path string) (bounds, error) {
	var b bounds
	num := func(k string) (float64, bool, error) {
		v, ok := sc.get(k)
		if !ok {
			return 0, false, nil
		}
		n, isNum := v.(json.Number)
		f, err := n.Float64()
		if !isNum || err != nil {
			return 0, false, schemaErr(path, "%s must be a number", k)
		}
		return f, true, nil
	}
	var err error
	if b.lo, b.okLo, err = num("minimum"); err != nil {
		return b, err
	}
	if b.hi, b.okHi, err = num("maximum"); err != nil {
		return b, err
	}
	for _, side := range []struct {
		k        string
		v        *float64
		ok, excl *bool
		tighter  func(a, b float64) bool
	}{
		{"exclusiveMinimum", &b.lo, &b.okLo, &b.exclLo, func(a, c float64) bool { return a >= c }},
		{"exclusiveMaximum", &b.hi, &b.okHi, &b.exclHi, func(a, c float64) bool { return a <= c }},
	} {
		v, present := sc.get(side.k)
		if !present {
			continue
		}
		if flag, isBool := v.(bool); isBool { // draft 4
			*side.excl = flag && *side.ok
			continue
		}
		f, _, err := num(side.k)
		if err != nil {
			return b, err
		}
		if !*side.ok || side.tighter(f, *side.v) {
			*side.v, *side.ok, *side.excl = f, true, true
		}
	}
	return b, nil
}

func (g *gen) integer(sc *object, path string) error {
	b, err := readBounds(sc, path)
	if err != nil {
		return err
	}
	lo, hi := math.Ceil(b.lo), math.Floor(b.hi)
	if b.exclLo && lo == b.lo {
		lo++
	}
	if b.exclHi && hi == b.hi {
		hi--
	}
	lo, hi = defaultRange(lo, hi, b.okLo, b.okHi)
	step := 1.0
	if m, ok := sc.get("multipleOf"); ok {
		n, isNum := m.(json.Number)
		f, err := n.Float64()
		if !isNum || err != nil || f <= 0 || f != math.Trunc(f) {
			return schemaErr(path, "only a positive integer multipleOf is supported")
		}
		step = f
	}
	klo, khi := math.Ceil(lo/step), math.Floor(hi/step)
	if klo > khi {
		return schemaErr(path, "no integer between the bounds")
	}
	k := klo + float64(g.int64n(int64(khi-klo)+1))
	g.emit(strconv.FormatFloat(k*step, 'f', -1, 64))
	return nil
}

// defaultRange clamps to ±2^53 and fills a missing bound 100 away from the
// other, or makes it 0..100.
func defaultRange(lo, hi float64, okLo, okHi bool) (float64, float64) {
	switch {
	case !okLo && !okHi:
		lo, hi = 0, 100
	case !okLo:
		lo = hi - 100
	case !okHi:
		hi = lo + 100
	}
	return max(lo, -maxRange), min(hi, maxRange)
}

func (g *gen) number(sc *object, path string) error {
	if _, ok := sc.get("multipleOf"); ok {
		return g.integer(sc, path)
	}
	b, err := readBounds(sc, path)
	if err != nil {
		return err
	}
	lo, hi := defaultRange(b.lo, b.hi, b.okLo, b.okHi)
	in := func(v float64) bool {
		return (v > lo || (v == lo && !b.exclLo)) && (v < hi || (v == hi && !b.exclHi))
	}
	x := lo + g.w.rng.Float64()*(hi-lo)
	for i, v := range []float64{math.Round(x*100) / 100, x, lo + (hi-lo)/2, lo, hi} {
		if in(v) && !math.IsInf(v, 0) {
			if i == 0 && hi > lo {
				// The chance of landing in v's rounding interval.
				g.lp += math.Log(min(1, 0.01/(hi-lo)))
			}
			g.emit(strconv.FormatFloat(v, 'f', -1, 64))
			return nil
		}
	}
	return schemaErr(path, "no number between the bounds")
}

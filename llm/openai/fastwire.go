package openai

import (
	"bytes"
	"unicode/utf8"
)

// decodeChunkFast decodes the common shapes of a chunk into c, which must
// be freshly reset, without encoding/json's reflection: text, role and
// finish chunks, usage, reasoning text, tool and function call deltas,
// and any keys the provider does not read (skipped, but checked to be
// valid JSON). It reports false for anything else (logprobs, an error
// object, a string with a surrogate escape or invalid UTF-8, a key
// spelled in another case, a key given twice, malformed JSON, ...); c is
// then partly written and must be reset and decoded by encoding/json,
// whose result or error is the reference. Whenever it reports true, c is
// exactly what json.Unmarshal makes of data
// (FuzzFastChunkMatchesEncodingJSON).
//
// Why: encoding/json's Unmarshal (a validation pass, then reflection) was
// about 12 % of all CPU at 1,000 paced streams in cmd/armistice-bench's
// window profiles, the largest single item on a relay's path.
func decodeChunkFast(data []byte, c *wireChunk) bool {
	d := fastDecoder{b: data}
	if !d.chunk(c) {
		return false
	}
	d.ws()
	return d.i == len(d.b)
}

// fastDecoder reads one JSON document from b; every method reports false
// as soon as the input leaves the subset it handles.
type fastDecoder struct {
	b []byte
	i int
}

// maxSkipDepth bounds the nesting of a skipped value; deeper input goes
// to encoding/json.
const maxSkipDepth = 64

// jsonNull is what encoding/json stores in a json.RawMessage for null.
var jsonNull = []byte("null")

func (d *fastDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next is the next byte after white space, 0 at the end.
func (d *fastDecoder) next() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// consume takes ch if it comes next (after white space).
func (d *fastDecoder) consume(ch byte) bool {
	if d.next() == ch {
		d.i++
		return true
	}
	return false
}

// null takes a null literal if it comes next.
func (d *fastDecoder) null() bool {
	if d.next() == 'n' && hasPrefix(d.b[d.i:], "null") {
		d.i += 4
		return true
	}
	return false
}

// members walks an object that comes next: member is called with each
// key (ASCII without escapes, or the walk fails) and must read its value.
func (d *fastDecoder) members(member func(key []byte) bool) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.key()
		if !ok || !d.consume(':') || !member(key) {
			return false
		}
		if d.consume(',') {
			continue
		}
		return d.consume('}')
	}
}

// key reads an object's key; it shares data's bytes.
func (d *fastDecoder) key() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			k := d.b[start:d.i]
			d.i++
			return k, true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// hasPrefix is strings.HasPrefix for bytes, without a conversion that
// could allocate.
func hasPrefix(b []byte, lit string) bool {
	return len(b) >= len(lit) && string(b[:len(lit)]) == lit
}

// known reports whether key is one of names; a key that equals one of
// them only when case is ignored fails the decoding (foreign), since
// encoding/json would read it into that field.
func known(key []byte, names ...string) (name string, foreign bool) {
	for _, n := range names {
		if string(key) == n {
			return n, false
		}
		if len(key) == len(n) && bytes.EqualFold(key, []byte(n)) {
			return "", true
		}
	}
	return "", false
}

func (d *fastDecoder) chunk(c *wireChunk) bool {
	var seen uint8
	return d.members(func(key []byte) bool {
		name, foreign := known(key, "choices", "usage", "error")
		if foreign || !once(&seen, name, "choices", "usage", "error") {
			return false
		}
		switch name {
		case "choices":
			return d.choices(c)
		case "usage":
			return d.usage(c)
		case "error":
			if !d.null() {
				return false // an error object: encoding/json keeps it raw
			}
			c.Error = jsonNull[:4:4]
			return true
		}
		return d.skip(0)
	})
}

// once records name in seen (a bit per position in names) and reports
// false if it was already there: a key given twice goes to encoding/json.
func once(seen *uint8, name string, names ...string) bool {
	for i, n := range names {
		if n == name {
			bit := uint8(1) << i
			if *seen&bit != 0 {
				return false
			}
			*seen |= bit
		}
	}
	return true
}

func (d *fastDecoder) choices(c *wireChunk) bool {
	if d.null() {
		c.Choices = nil
		return true
	}
	if !d.consume('[') {
		return false
	}
	if d.consume(']') {
		if c.Choices == nil {
			c.Choices = []wireChoice{}
		}
		return true
	}
	for {
		c.Choices = append(c.Choices, wireChoice{})
		if !d.choice(&c.Choices[len(c.Choices)-1]) {
			return false
		}
		if d.consume(',') {
			continue
		}
		return d.consume(']')
	}
}

func (d *fastDecoder) choice(ch *wireChoice) bool {
	if d.null() {
		return true
	}
	var seen uint8
	return d.members(func(key []byte) bool {
		name, foreign := known(key, "index", "delta", "logprobs", "finish_reason")
		if foreign || !once(&seen, name, "index", "delta", "logprobs", "finish_reason") {
			return false
		}
		switch name {
		case "index":
			return d.int(&ch.Index)
		case "delta":
			return d.delta(&ch.Delta)
		case "logprobs":
			return d.null() // logprobs go to encoding/json
		case "finish_reason":
			s, ok := d.string()
			ch.FinishReason = s
			return ok
		}
		return d.skip(0)
	})
}

func (d *fastDecoder) delta(dl *wireDelta) bool {
	if d.null() {
		return true
	}
	var seen uint8
	return d.members(func(key []byte) bool {
		name, foreign := known(key, "content", "reasoning_content", "reasoning", "tool_calls", "function_call")
		if foreign || !once(&seen, name, "content", "reasoning_content", "reasoning", "tool_calls", "function_call") {
			return false
		}
		switch name {
		case "content":
			s, ok := d.string()
			dl.Content = s
			return ok
		case "reasoning_content":
			return d.lenient(&dl.ReasoningContent)
		case "reasoning":
			return d.lenient(&dl.Reasoning)
		case "tool_calls":
			return d.toolCalls(dl)
		case "function_call":
			if d.null() {
				return true
			}
			dl.FunctionCall = &wireFunction{}
			return d.function(dl.FunctionCall)
		}
		return d.skip(0)
	})
}

func (d *fastDecoder) toolCalls(dl *wireDelta) bool {
	if d.null() {
		dl.ToolCalls = nil
		return true
	}
	if !d.consume('[') {
		return false
	}
	if d.consume(']') {
		if dl.ToolCalls == nil {
			dl.ToolCalls = []wireToolCall{}
		}
		return true
	}
	for {
		dl.ToolCalls = append(dl.ToolCalls, wireToolCall{})
		if !d.toolCall(&dl.ToolCalls[len(dl.ToolCalls)-1]) {
			return false
		}
		if d.consume(',') {
			continue
		}
		return d.consume(']')
	}
}

func (d *fastDecoder) toolCall(tc *wireToolCall) bool {
	if d.null() {
		return true
	}
	var seen uint8
	return d.members(func(key []byte) bool {
		name, foreign := known(key, "index", "id", "function")
		if foreign || !once(&seen, name, "index", "id", "function") {
			return false
		}
		switch name {
		case "index":
			i := int64(tc.Index)
			if !d.int(&i) || int64(int(i)) != i {
				return false
			}
			tc.Index = int(i)
			return true
		case "id":
			s, ok := d.string()
			tc.ID = s
			return ok
		case "function":
			return d.function(&tc.Function)
		}
		return d.skip(0)
	})
}

// function reads a function's name and arguments (null leaves f).
func (d *fastDecoder) function(f *wireFunction) bool {
	if d.null() {
		return true
	}
	var seen uint8
	return d.members(func(key []byte) bool {
		name, foreign := known(key, "name", "arguments")
		if foreign || !once(&seen, name, "name", "arguments") {
			return false
		}
		switch name {
		case "name":
			s, ok := d.string()
			f.Name = s
			return ok
		case "arguments":
			s, ok := d.string()
			f.Arguments = s
			return ok
		}
		return d.skip(0)
	})
}

// lenient reads a lenientString: a string is kept, any other value is
// skipped and leaves it empty.
func (d *fastDecoder) lenient(s *lenientString) bool {
	if d.next() != '"' {
		return d.skip(0)
	}
	v, ok := d.string()
	*s = lenientString(v)
	return ok
}

func (d *fastDecoder) usage(c *wireChunk) bool {
	if d.null() {
		c.Usage = nil
		return true
	}
	u := &wireUsage{}
	c.Usage = u
	var seen uint8
	return d.members(func(key []byte) bool {
		name, foreign := known(key, "prompt_tokens", "completion_tokens")
		if foreign || !once(&seen, name, "prompt_tokens", "completion_tokens") {
			return false
		}
		switch name {
		case "prompt_tokens":
			return d.int(&u.PromptTokens)
		case "completion_tokens":
			return d.int(&u.CompletionTokens)
		}
		return d.skip(0)
	})
}

// int reads an integer that fits an int64, or null (which leaves dst).
// A fraction, an exponent or an overflow goes to encoding/json.
func (d *fastDecoder) int(dst *int64) bool {
	if d.null() {
		return true
	}
	d.ws()
	neg := d.i < len(d.b) && d.b[d.i] == '-'
	if neg {
		d.i++
	}
	start := d.i
	var u uint64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		if u > (1<<63)/10 {
			return false
		}
		u = u*10 + uint64(d.b[d.i]-'0')
		d.i++
	}
	n := d.i - start
	if n == 0 || (n > 1 && d.b[start] == '0') || (d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E')) {
		return false
	}
	switch {
	case neg && u <= 1<<63:
		*dst = int64(-u)
	case !neg && u < 1<<63:
		*dst = int64(u)
	default:
		return false
	}
	return true
}

// string reads a string or null (""). Escapes are decoded; a surrogate
// escape or invalid UTF-8 (which encoding/json replaces) goes to
// encoding/json.
func (d *fastDecoder) string() (string, bool) {
	if d.null() {
		return "", true
	}
	if !d.consume('"') {
		return "", false
	}
	start := d.i
	ascii, escaped := true, false
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(raw) {
				return "", false
			}
			if !escaped {
				return string(raw), true
			}
			return unescape(raw)
		case c == '\\':
			escaped = true
			d.i += 2 // the escape's letter is checked by unescape
			continue
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return "", false
}

// unescape decodes a string's escapes; raw is valid UTF-8.
func unescape(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", false
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok || (r >= 0xD800 && r < 0xE000) {
				return "", false // surrogates: encoding/json pairs or replaces them
			}
			out = utf8.AppendRune(out, r)
			i += 4
		default:
			return "", false
		}
	}
	return string(out), true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip reads any JSON value the provider does not need, checking that it
// is well formed.
func (d *fastDecoder) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch c := d.next(); {
	case c == '{':
		return d.members(func([]byte) bool { return d.skip(depth + 1) })
	case c == '[':
		d.i++
		if d.consume(']') {
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			if d.consume(',') {
				continue
			}
			return d.consume(']')
		}
	case c == '"':
		return d.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.skipNumber()
	default:
		for _, lit := range [...]string{"null", "true", "false"} {
			if hasPrefix(d.b[d.i:], lit) {
				d.i += len(lit)
				return true
			}
		}
		return false
	}
}

func (d *fastDecoder) skipString() bool {
	d.i++ // the opening quote
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return true
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return false
			}
			switch d.b[d.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i += 2
			case 'u':
				if _, ok := hex4(d.b[d.i+2:]); !ok {
					return false
				}
				d.i += 6
			default:
				return false
			}
			continue
		case c < 0x20:
			return false
		}
		d.i++
	}
	return false
}

// skipNumber reads a number by JSON's grammar.
func (d *fastDecoder) skipNumber() bool {
	b := d.b
	i := d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return true
}

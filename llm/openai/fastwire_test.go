package openai

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// fastCases are chunks the fast decoder takes (fast true) or leaves to
// encoding/json (fast false). Either way the chunk reader's result must be
// encoding/json's.
var fastCases = []struct {
	name string
	data string
	fast bool
}{
	{"token", `{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null}`, true},
	{"role", `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}`, true},
	{"stop", `{"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`, true},
	{"usage only", `{"id":"c","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`, true},
	{"openai's extra keys", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733000000,"model":"gpt-4o","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"obfuscation":"q8Z"}`, true},
	{"escapes", `{"choices":[{"delta":{"content":"a\nb\"c\\d\/e\u00e9\u4e2d\t\r\b\f"}}]}`, true},
	{"non-ascii", `{"choices":[{"delta":{"content":"héllo 中文 🙂"}}]}`, true},
	{"reasoning strings", `{"choices":[{"index":0,"delta":{"reasoning_content":"think","reasoning":"more"}}]}`, true},
	{"reasoning of another shape", `{"choices":[{"delta":{"reasoning":{"text":"x"},"reasoning_content":[1,2]}}]}`, true},
	{"reasoning null", `{"choices":[{"delta":{"reasoning_content":null,"content":"x"}}]}`, true},
	{"nulls", `{"choices":[{"index":null,"delta":null,"logprobs":null,"finish_reason":null}],"usage":null,"error":null}`, true},
	{"choices null", `{"choices":null}`, true},
	{"a null choice", `{"choices":[null,{"index":1,"delta":{"content":"b"}}]}`, true},
	{"content null", `{"choices":[{"delta":{"content":null,"tool_calls":null,"function_call":null}}]}`, true},
	{"white space", " \t\r\n{ \"choices\" : [ { \"index\" : 2 , \"delta\" : { \"content\" : \"x\" } } ] , \"usage\" : { \"prompt_tokens\" : -0 } } \n", true},
	{"int bounds", `{"choices":[{"index":9223372036854775807},{"index":-9223372036854775808},{"index":-1}]}`, true},
	{"skipped values", `{"x":[1.5e-3,-0,0.0,1E+2,true,false,null,"s\u00e9\"",{"a":{"b":[[]]}},[]],"y":{},"z":""}`, true},
	{"empty object", `{}`, true},
	{"invalid utf-8 in a skipped string", "{\"id\":\"\xff\",\"choices\":[]}", true},

	{"tool call start", `{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}]}`, true},
	{"tool call arguments", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Par"}}]}}]}`, true},
	{"parallel tool calls", `{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}},{"index":1,"id":"b","function":{"name":"g","arguments":null}},null]}}]}`, true},
	{"tool calls empty", `{"choices":[{"delta":{"tool_calls":[]}}]}`, true},
	{"tool call nulls", `{"choices":[{"delta":{"tool_calls":[{"index":null,"id":null,"function":null}]}}]}`, true},
	{"function call", `{"choices":[{"delta":{"function_call":{"name":"f","arguments":"{}"}}}]}`, true},
	{"function call empty", `{"choices":[{"delta":{"function_call":{}}}]}`, true},
	{"tool call key in another case", `{"choices":[{"delta":{"tool_calls":[{"ID":"a"}]}}]}`, false},
	{"tool call function in another case", `{"choices":[{"delta":{"tool_calls":[{"Function":{"name":"f"}}]}}]}`, false},
	{"function name given twice", `{"choices":[{"delta":{"function_call":{"name":"f","name":"g"}}}]}`, false},
	{"tool call index a fraction", `{"choices":[{"delta":{"tool_calls":[{"index":0.5}]}}]}`, false},
	{"tool calls an object", `{"choices":[{"delta":{"tool_calls":{}}}]}`, false},
	{"arguments an object", `{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":{}}}]}}]}`, false},
	{"logprobs", `{"choices":[{"delta":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-0.1,"bytes":[97],"top_logprobs":[]}]}}]}`, false},
	{"error object", `{"error":{"message":"boom","type":"server_error"}}`, false},
	{"key in another case", `{"choices":[{"delta":{"Content":"a"}}]}`, false},
	{"top key in another case", `{"CHOICES":[]}`, false},
	{"key given twice", `{"choices":[],"choices":[{"delta":{"content":"a"}}]}`, false},
	{"content given twice", `{"choices":[{"delta":{"content":"a","content":"b"}}]}`, false},
	{"escaped key", `{"choices":[{"delta":{"cont\u0065nt":"a"}}]}`, false},
	{"non-ascii key", `{"choices":[{"delta":{"contént":"a"}}]}`, false},
	{"surrogate pair", `{"choices":[{"delta":{"content":"\ud83d\ude00"}}]}`, false},
	{"lone surrogate", `{"choices":[{"delta":{"content":"\ud83d"}}]}`, false},
	{"invalid utf-8", "{\"choices\":[{\"delta\":{\"content\":\"a\xffb\"}}]}", false},
	{"index with a fraction", `{"choices":[{"index":1.0}]}`, false},
	{"index with an exponent", `{"choices":[{"index":1e2}]}`, false},
	{"index as a string", `{"choices":[{"index":"0"}]}`, false},
	{"index overflow", `{"choices":[{"index":9223372036854775808}]}`, false},
	{"index leading zero", `{"choices":[{"index":01}]}`, false},
	{"minus and space", `{"choices":[{"index":- 1}]}`, false},
	{"trailing comma", `{"choices":[],}`, false},
	{"unclosed", `{"choices":[]`, false},
	{"bad literal", `{"x":nul}`, false},
	{"literal run on", `{"x":nullx}`, false},
	{"control character", "{\"choices\":[{\"delta\":{\"content\":\"a\tb\"}}]}", false},
	{"bad escape", `{"choices":[{"delta":{"content":"\x"}}]}`, false},
	{"short unicode escape", `{"choices":[{"delta":{"content":"\u00"}}]}`, false},
	{"bad skipped escape", `{"id":"\q"}`, false},
	{"bad number", `{"x":01}`, false},
	{"bad fraction", `{"x":1.}`, false},
	{"top-level null", `null`, false},
	{"top-level array", `[]`, false},
	{"trailing data", `{} x`, false},
	{"empty", ``, false},
	{"content a number", `{"choices":[{"delta":{"content":1}}]}`, false},
	{"delta a string", `{"choices":[{"delta":"x"}]}`, false},
	{"logprobs of another shape", `{"choices":[{"logprobs":[]}]}`, false},
	{"deep", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, false},
}

// decodeBoth decodes data the fast way and with encoding/json, each into
// a chunk reset as the reader resets it (after a chunk with three
// choices, so the choices' array is reused).
func decodeBoth(data []byte) (fast, std wireChunk, handled bool, stdErr error) {
	prior := func() *chunkReader {
		c := &chunkReader{}
		c.cur = wireChunk{Choices: make([]wireChoice, 3)}
		c.cur.Choices[1].Delta.Content = "stale"
		c.reset()
		return c
	}
	f, s := prior(), prior()
	handled = decodeChunkFast(data, &f.cur)
	stdErr = json.Unmarshal(data, &s.cur)
	return f.cur, s.cur, handled, stdErr
}

func TestFastChunkMatchesEncodingJSON(t *testing.T) {
	for _, tc := range fastCases {
		t.Run(tc.name, func(t *testing.T) {
			fast, std, handled, err := decodeBoth([]byte(tc.data))
			if handled != tc.fast {
				t.Fatalf("fast decoder handled it: %v, want %v", handled, tc.fast)
			}
			if !handled {
				return
			}
			if err != nil {
				t.Fatalf("fast decoder took what encoding/json refuses (%v)", err)
			}
			if !reflect.DeepEqual(fast, std) {
				t.Fatalf("fast decoder: %+v\nencoding/json: %+v", fast, std)
			}
			var fresh wireChunk
			if !decodeChunkFast([]byte(tc.data), &fresh) {
				t.Fatal("a fresh chunk was not handled")
			}
			var freshStd wireChunk
			if err := json.Unmarshal([]byte(tc.data), &freshStd); err != nil || !reflect.DeepEqual(fresh, freshStd) {
				t.Fatalf("fresh chunk: fast %+v, encoding/json %+v (%v)", fresh, freshStd, err)
			}
		})
	}
}

// FuzzFastChunkMatchesEncodingJSON: whatever the fast decoder accepts,
// encoding/json accepts too and decodes to the same chunk.
func FuzzFastChunkMatchesEncodingJSON(f *testing.F) {
	for _, tc := range fastCases {
		f.Add([]byte(tc.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, std, handled, err := decodeBoth(data)
		if !handled {
			return
		}
		if err != nil {
			t.Fatalf("fast decoder took %q, which encoding/json refuses: %v", data, err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q\nfast decoder: %+v\nencoding/json: %+v", data, fast, std)
		}
	})
}

// TestChunksOutsideTheFastShapesReadAsBefore: through the reader, a chunk
// the fast decoder leaves (tool calls, logprobs, an error object,
// malformed JSON) reads exactly as encoding/json makes it.
func TestChunksOutsideTheFastShapesReadAsBefore(t *testing.T) {
	for _, tc := range fastCases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.ContainsAny(tc.data, "\n\r") || tc.data == "" {
				return // not one SSE data line
			}
			r := readerOf("data: " + tc.data + "\n\n")
			got := r.Next()
			var want wireChunk
			err := json.Unmarshal([]byte(tc.data), &want)
			var ev *eventError
			switch {
			case err != nil:
				if got || r.Err() == nil || r.Err().Error() != err.Error() {
					t.Fatalf("Next %v, Err %v; want encoding/json's error %v", got, r.Err(), err)
				}
			case len(want.Error) > 0 && string(want.Error) != "null":
				if got || !asEventErrorIn(r.Err(), &ev) {
					t.Fatalf("Next %v, Err %v; want an event error", got, r.Err())
				}
			default:
				if !got || !reflect.DeepEqual(normal(r.Current()), normal(want)) {
					t.Fatalf("Next %v (%v): %+v\nwant %+v", got, r.Err(), r.Current(), want)
				}
			}
		})
	}
}

func asEventErrorIn(err error, ev **eventError) bool {
	e, ok := asEventError(err)
	*ev = e
	return ok
}

// normal makes an empty choices slice nil, for a comparison where only
// the content counts.
func normal(c wireChunk) wireChunk {
	if len(c.Choices) == 0 {
		c.Choices = nil
	}
	return c
}

// TestAPlainTextChunkAllocatesOnlyItsText: reading a text chunk costs one
// allocation, its text. encoding/json made nine of every chunk.
func TestAPlainTextChunkAllocatesOnlyItsText(t *testing.T) {
	const event = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"
	const runs = 200
	r := newChunkReader(&http.Response{Body: io.NopCloser(strings.NewReader(strings.Repeat(event, runs+2)))})
	if !r.Next() { // the first chunk sizes the choices' array
		t.Fatal(r.Err())
	}
	allocs := testing.AllocsPerRun(runs, func() {
		if !r.Next() || r.Current().Choices[0].Delta.Content != " token" {
			t.Fatal(r.Err())
		}
	})
	if allocs > 1 {
		t.Fatalf("%.1f allocations per text chunk, want at most 1 (the text)", allocs)
	}
}

// BenchmarkDecodeChunk is one chunk's decoding, fast and with
// encoding/json: a text chunk and a tool call's arguments.
//
//	go test -run '^$' -bench DecodeChunk -benchmem ./llm/openai
func BenchmarkDecodeChunk(b *testing.B) {
	for _, name := range []string{"token", "tool call arguments"} {
		var data []byte
		for _, tc := range fastCases {
			if tc.name == name {
				data = []byte(tc.data)
			}
		}
		b.Run(strings.ReplaceAll(name, " ", "-")+"/fast", func(b *testing.B) {
			var c chunkReader
			b.ReportAllocs()
			for b.Loop() {
				c.reset()
				if !decodeChunkFast(data, &c.cur) {
					b.Fatal("not handled")
				}
			}
		})
		b.Run(strings.ReplaceAll(name, " ", "-")+"/encoding-json", func(b *testing.B) {
			var c chunkReader
			b.ReportAllocs()
			for b.Loop() {
				c.reset()
				if err := json.Unmarshal(data, &c.cur); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

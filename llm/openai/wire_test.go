package openai

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
)

func readerOf(body string) *chunkReader {
	return newChunkReader(&http.Response{Body: io.NopCloser(strings.NewReader(body))})
}

func TestChunkReaderFraming(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, tc := range []struct {
		name  string
		body  string
		texts []string
		err   func(error) bool
	}{
		{"plain", "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n", []string{"a"}, nil},
		{"CRLF, comments, event and id lines", ": ping\r\nevent: chunk\r\nid: 7\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\r\n\r\n", []string{"b"}, nil},
		{"no space after the colon", "data:{\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\n\n", []string{"c"}, nil},
		{"data split over lines", "data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"d\"}}]}\n\n", []string{"d"}, nil},
		{"a line longer than the buffer", "data: {\"choices\":[{\"delta\":{\"content\":\"" + long + "\"}}]}\n\n", []string{long}, nil},
		{"blank lines between events", "\n\ndata: {\"choices\":[]}\n\n\n", []string{""}, nil},
		{"an event without its blank line is dropped", "data: {\"choices\":[{\"delta\":{\"content\":\"e\"}}]}", nil, nil},
		{"malformed JSON", "data: {\"choices\":[\n\n", nil, func(err error) bool {
			var syn *json.SyntaxError
			return errors.As(err, &syn)
		}},
		{"choices not an array", "data: {\"choices\":3}\n\n", nil, func(err error) bool {
			var typ *json.UnmarshalTypeError
			return errors.As(err, &typ)
		}},
		{"error object", "data: {\"error\":{\"message\":\"overloaded\"}}\n\n", nil, func(err error) bool {
			e, ok := asEventError(err)
			return ok && strings.Contains(string(e.data), "overloaded")
		}},
		{"an event over the limit", "data: " + strings.Repeat("y", maxEvent+10) + "\n\n", nil, func(err error) bool { return errors.Is(err, bufio.ErrTooLong) }},
	} {
		for _, wait := range []bool{false, true} {
			name := tc.name
			if wait {
				name += ", Wait before each Next"
			}
			t.Run(name, func(t *testing.T) {
				r := readerOf(tc.body)
				var texts []string
				for r.wait(wait) && r.Next() {
					text := ""
					for _, ch := range r.Current().Choices {
						text += ch.Delta.Content
					}
					texts = append(texts, text)
				}
				if strings.Join(texts, "|") != strings.Join(tc.texts, "|") {
					t.Fatalf("texts = %q, want %q", texts, tc.texts)
				}
				if tc.err == nil && r.Err() != nil || tc.err != nil && !tc.err(r.Err()) {
					t.Fatalf("err = %v", r.Err())
				}
				if r.Next() {
					t.Fatal("Next after the end")
				}
			})
		}
	}
}

// wait calls Wait when asked to, for loops that read both ways.
func (c *chunkReader) wait(wait bool) bool {
	if wait {
		c.Wait()
	}
	return true
}

// failOnce is a body whose first read fails and whose later reads panic.
type failOnce struct{ read bool }

var errReset = errors.New("connection reset")

func (f *failOnce) Read([]byte) (int, error) {
	if f.read {
		panic("the body was read again after its error")
	}
	f.read = true
	return 0, errReset
}

// TestWaitKeepsTheReadErrorForNext: a read error met while waiting is
// what Next reports, without reading the body again (a body need not
// repeat its error); an end of body met while waiting ends Next cleanly.
func TestWaitKeepsTheReadErrorForNext(t *testing.T) {
	r := newChunkReader(&http.Response{Body: io.NopCloser(&failOnce{})})
	r.Wait()
	r.Wait() // returns at once: the error is kept
	if r.Next() || !errors.Is(r.Err(), errReset) {
		t.Fatalf("Next after a failed wait: err %v, want %v", r.Err(), errReset)
	}
	r = readerOf("")
	r.Wait()
	if r.Next() || r.Err() != nil {
		t.Fatalf("Next after a wait that met the end: err %v, want none", r.Err())
	}
}

func BenchmarkChunkReader(b *testing.B) {
	event := "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
	body := strings.Repeat(event, 1000)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r := readerOf(body)
		for r.Next() {
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/chunk")
}

// FuzzDecode feeds arbitrary chunk payloads through the reader and the
// decoder and checks the new fields against a generic decoding of the same
// JSON: choice 0's tool calls are all delivered, in order, with their
// index, id, name and arguments; its reasoning is reasoning_content, or
// else reasoning; its logprobs are all delivered.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"a\":"}},{"index":1,"function":{"arguments":"1}"}}]},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"reasoning_content":"a","reasoning":"b","content":"c"},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"reasoning":{"x":1}},"finish_reason":"tool_calls"}]}`,
		`{"choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-1,"bytes":[97],"top_logprobs":[{"token":"b","logprob":-2,"bytes":null}]}]},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"function_call":{"name":"f","arguments":"{}"}},"finish_reason":"function_call"}]}`,
		`{"choices":[{"index":1,"delta":{"tool_calls":[{"index":0}]}},{"index":0,"delta":{"tool_calls":null}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if bytes.ContainsAny(payload, "\r\n") {
			return // one data line: framing is TestChunkReaderFraming's
		}
		r := readerOf("data: " + string(payload) + "\n\n")
		if !r.Next() {
			return
		}
		c, done, err := (&decoder{}).Decode(r.Current())
		if done || err != nil {
			t.Fatalf("Decode = %v, %v", done, err)
		}
		var ref struct {
			Choices []struct {
				Index int64 `json:"index"`
				Delta struct {
					ReasoningContent any `json:"reasoning_content"`
					Reasoning        any `json:"reasoning"`
					ToolCalls        []struct {
						Index    int    `json:"index"`
						ID       string `json:"id"`
						Function struct {
							Name      string `json:"name"`
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
					FunctionCall any `json:"function_call"`
				} `json:"delta"`
				Logprobs *struct {
					Content []any `json:"content"`
				} `json:"logprobs"`
			} `json:"choices"`
		}
		if json.Unmarshal(payload, &ref) != nil {
			return // the generic shapes differ (a string where a number was): nothing to compare
		}
		for _, ch := range ref.Choices {
			if ch.Index != 0 {
				continue
			}
			if ch.Delta.FunctionCall == nil {
				if len(c.ToolCalls) != len(ch.Delta.ToolCalls) {
					t.Fatalf("%d tool calls, want %d", len(c.ToolCalls), len(ch.Delta.ToolCalls))
				}
				for i, tc := range ch.Delta.ToolCalls {
					want := llm.ToolCallDelta{Index: tc.Index, ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}
					if c.ToolCalls[i] != want {
						t.Fatalf("tool call %d = %+v, want %+v", i, c.ToolCalls[i], want)
					}
				}
			}
			want, _ := ch.Delta.ReasoningContent.(string)
			if want == "" {
				want, _ = ch.Delta.Reasoning.(string)
			}
			if c.Reasoning != want {
				t.Fatalf("reasoning %q, want %q", c.Reasoning, want)
			}
			if ch.Logprobs != nil && len(c.Logprobs) != len(ch.Logprobs.Content) {
				t.Fatalf("%d logprobs, want %d", len(c.Logprobs), len(ch.Logprobs.Content))
			}
			return
		}
		if len(c.ToolCalls) != 0 || c.Reasoning != "" || len(c.Logprobs) != 0 {
			t.Fatalf("no choice 0, yet %+v", c)
		}
	})
}

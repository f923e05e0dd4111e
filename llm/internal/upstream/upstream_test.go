package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/armistice-go/armistice/llm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "sk-secret-123456"

func TestRedact(t *testing.T) {
	if got := Redact("a "+secret+" b "+secret, secret); got != "a [redacted] b [redacted]" {
		t.Fatalf("Redact = %q", got)
	}
	if got := Redact("abc", "ab"); got != "abc" {
		t.Fatalf("a short secret was redacted: %q", got)
	}
	base := errors.New("dial " + secret)
	err := RedactError(base, secret)
	if strings.Contains(err.Error(), secret) || !errors.Is(err, base) {
		t.Fatalf("RedactError = %v", err)
	}
	if plain := errors.New("fine"); RedactError(plain, secret) != plain || RedactError(nil, secret) != nil {
		t.Fatal("RedactError changed an error without the secret")
	}
}

func response(code int, body string, h http.Header) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

func TestStatus(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		res  *http.Response
		want llm.StatusError
	}{
		{response(429, `{"error":{"message":"slow `+secret+`","type":"requests"}}`, http.Header{"Retry-After": {"2"}}),
			llm.StatusError{StatusCode: 429, RetryAfter: 2 * time.Second, Message: "slow [redacted]", Type: "requests"}},
		{response(529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, nil),
			llm.StatusError{StatusCode: 529, Message: "Overloaded", Type: "overloaded_error"}},
		{response(400, `{"error":{"message":"too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`, nil),
			llm.StatusError{StatusCode: 400, Message: "too long", Type: "invalid_request_error", Param: "messages", Code: "context_length_exceeded"}},
		{response(401, `{"error":{"message":"bad key","type":"invalid_request_error","param":"`+secret+`","code":"`+secret+`"}}`, nil),
			llm.StatusError{StatusCode: 401, Message: "bad key", Type: "invalid_request_error", Param: "[redacted]", Code: "[redacted]"}},
		{response(502, `<html>bad gateway</html>`, nil), llm.StatusError{StatusCode: 502, Message: "Bad Gateway"}},
		{&http.Response{StatusCode: 500, Header: http.Header{}}, llm.StatusError{StatusCode: 500, Message: "Internal Server Error"}},
	} {
		if got := Status(tc.res, now, secret); *got != tc.want {
			t.Errorf("Status = %+v, want %+v", *got, tc.want)
		}
	}
}

func TestParseErrorBody(t *testing.T) {
	for _, tc := range []struct {
		body string
		want ErrorBody
	}{
		{`{"error":{"message":"m","type":"t","param":"p","code":"c"}}`, ErrorBody{Type: "t", Code: "c", Param: "p", Message: "m"}},
		{`{"error":{"message":"m","type":"t","param":null,"code":null}}`, ErrorBody{Type: "t", Message: "m"}},
		{`{"error":{"message":"m","code":404}}`, ErrorBody{Code: "404", Message: "m"}},
		{`{"type":"error","error":{"type":"not_found_error","message":"no model"}}`, ErrorBody{Type: "not_found_error", Message: "no model"}},
		{`{"error":"model not found"}`, ErrorBody{Message: "model not found"}},
		{`{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}`, ErrorBody{Type: "BadRequestError", Code: "400", Message: "bad"}},
		{`{"error":{"message":"m","code":{"x":1},"param":[1]}}`, ErrorBody{Message: "m"}},
		{`{"error":{"message":5}}`, ErrorBody{}},
		{`{"error":null}`, ErrorBody{}},
		{`<html>`, ErrorBody{}},
		{``, ErrorBody{}},
	} {
		if got := ParseErrorBody([]byte(tc.body)); got != tc.want {
			t.Errorf("ParseErrorBody(%s) = %+v, want %+v", tc.body, got, tc.want)
		}
	}
}

func TestStreamError(t *testing.T) {
	for _, tc := range []struct {
		data string
		want llm.StreamError
	}{
		{`{"error":{"message":"boom","type":"server_error"}}`, llm.StreamError{Type: "server_error", Message: "boom"}},
		{`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, llm.StreamError{Type: "overloaded_error", Message: "Overloaded"}},
		{`{"error":{"code":"rate_limited"}}`, llm.StreamError{Type: "rate_limited"}},
		{`{"error":"flat ` + secret + `"}`, llm.StreamError{Message: `{"error":"flat [redacted]"}`}},
		{strings.Repeat("x", 300), llm.StreamError{Message: strings.Repeat("x", 200) + "..."}},
	} {
		if got := StreamError([]byte(tc.data), secret); *got != tc.want {
			t.Errorf("StreamError(%.40s) = %+v, want %+v", tc.data, *got, tc.want)
		}
	}
}

type closer struct{ closed chan struct{} }

func (c *closer) Close() error { close(c.closed); return nil }

func TestWatch(t *testing.T) {
	c := &closer{closed: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	stop := Watch(ctx, c)
	cancel()
	<-c.closed
	stop()
	stop()

	c = &closer{closed: make(chan struct{})}
	ctx, cancel = context.WithCancel(t.Context())
	stop = Watch(ctx, c)
	stop()
	cancel()
	select {
	case <-c.closed:
		t.Fatal("closed after stop")
	default:
	}
	Watch(ctx, nil)()
}

func TestChecks(t *testing.T) {
	for _, u := range []string{"http://localhost:8000/v1", "https://api.openai.com/v1"} {
		if err := CheckBaseURL(u); err != nil {
			t.Errorf("CheckBaseURL(%q) = %v", u, err)
		}
	}
	for _, u := range []string{"", "localhost:8000", "ftp://x", "http://", "%zz"} {
		if CheckBaseURL(u) == nil {
			t.Errorf("CheckBaseURL(%q) = nil", u)
		}
	}
	if err := CheckHeaders(map[string]string{"X-A": "b c", "anthropic-beta": "x"}); err != nil {
		t.Error(err)
	}
	for _, h := range []map[string]string{{"": "x"}, {"a b": "x"}, {"a:": "x"}, {"X": "a\rb"}} {
		if CheckHeaders(h) == nil {
			t.Errorf("CheckHeaders(%q) = nil", h)
		}
	}
	if c := DefaultHTTPClient(); c.Timeout != 0 || c.Transport == nil {
		t.Errorf("DefaultHTTPClient = %+v", c)
	}
}

// sliceStream is an SDKStream over a fixed list of events.
type sliceStream struct {
	evs []llm.Chunk
	i   int
}

func (s *sliceStream) Next() bool         { s.i++; return s.i <= len(s.evs) }
func (s *sliceStream) Current() llm.Chunk { return s.evs[s.i-1] }
func (s *sliceStream) Err() error         { return nil }
func (s *sliceStream) Close() error       { return nil }

// passDecoder hands the events through; the last one finishes.
type passDecoder struct{ finished bool }

func (d *passDecoder) Decode(c llm.Chunk) (llm.Chunk, bool, error) {
	d.finished = d.finished || c.FinishReason != llm.FinishNone
	return c, false, nil
}
func (d *passDecoder) Finished() bool             { return d.finished }
func (d *passDecoder) EventError(err error) error { return nil }

func TestStreamKeepsEveryKindOfContent(t *testing.T) {
	want := []llm.Chunk{
		{Reasoning: "hm"},
		{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "call_1", Name: "f"}}},
		{Logprobs: []llm.TokenLogprob{{Token: "a", Logprob: -1}}},
		{Text: "a"},
		{FinishReason: llm.FinishStop},
	}
	evs := append([]llm.Chunk{{}}, want...) // the empty event is skipped
	st := NewStream[llm.Chunk](t.Context(), "p", secret, &sliceStream{evs: evs}, nil, &passDecoder{}, errors.New("closed"))
	defer st.Close()
	for i, w := range want {
		c, err := st.Recv()
		if err != nil || c.Reasoning != w.Reasoning || c.Text != w.Text || len(c.ToolCalls) != len(w.ToolCalls) || len(c.Logprobs) != len(w.Logprobs) {
			t.Fatalf("chunk %d = %+v, %v; want %+v", i, c, err, w)
		}
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("end = %v, want io.EOF", err)
	}
}

// waitingStream is a sliceStream that can wait; it counts its waits.
type waitingStream struct {
	sliceStream
	waits int
}

func (s *waitingStream) Wait() { s.waits++ }

// TestWaitSkipsEventsThatCarryNothing: Wait reads past the events that
// carry nothing (waiting again before each), and the Recv after it hands
// out the chunk it found without reading; at the end, Wait returns and
// Recv reports the end.
func TestWaitSkipsEventsThatCarryNothing(t *testing.T) {
	s := &waitingStream{sliceStream: sliceStream{evs: []llm.Chunk{{}, {}, {Text: "a"}, {FinishReason: llm.FinishStop}}}}
	st := NewStream[llm.Chunk](t.Context(), "p", secret, s, nil, &passDecoder{}, errors.New("closed"))
	defer st.Close()
	st.Wait()
	if s.waits != 3 || s.i != 3 {
		t.Fatalf("Wait waited %d times and read %d events; want 3 and 3", s.waits, s.i)
	}
	st.Wait() // a chunk is waiting: nothing more to do
	if c, err := st.Recv(); err != nil || c.Text != "a" || s.i != 3 {
		t.Fatalf("Recv = %+v, %v after reading %d events; want \"a\" without a read", c, err, s.i)
	}
	if c, err := st.Recv(); err != nil || c.FinishReason != llm.FinishStop {
		t.Fatalf("Recv without Wait = %+v, %v", c, err)
	}
	st.Wait()
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("end = %v, want io.EOF", err)
	}
}

// FuzzParseErrorBody checks that no body makes the parser panic, and that a
// body it reads gives back fields that were in it.
func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []string{`{"error":{"message":"m","type":"t","param":"p","code":"c"}}`, `{"error":"x"}`,
		`{"object":"error","message":"bad","code":400}`, `{"type":"error","error":{"type":"a","message":"b"}}`, `null`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := ParseErrorBody(body)
		for _, field := range []string{b.Type, b.Code, b.Param, b.Message} {
			if field != "" && !json.Valid(body) {
				t.Fatalf("fields %+v from invalid JSON %q", b, body)
			}
		}
	})
}

// Package providertest is the contract test suite every network provider
// (llm/openai, llm/anthropic) runs against the llmtest fake servers: the
// same table for both, so they behave alike.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/upstream"
	"github.com/armistice-go/armistice/llm/llmtest"
)

// Secret is the API key the factories must configure. The suite checks it
// reaches the server and never appears in an error.
const Secret = "sk-providertest-0123456789abcdef"

// Factory returns a provider for the server at baseURL, configured with
// APIKey Secret and HTTP client hc.
type Factory func(t *testing.T, baseURL string, hc *http.Client) llm.Provider

// Hang guards: a test that waits this long has failed (they are not timing
// assertions; everything normally happens within milliseconds).
const hang = 10 * time.Second

// Result is what reading a stream to its end gave.
type Result struct {
	Text string
	// Reasoning joins the chunks' reasoning; ToolCalls and Logprobs are
	// every chunk's, in order.
	Reasoning string
	ToolCalls []llm.ToolCallDelta
	Logprobs  []llm.TokenLogprob
	Chunks    []llm.Chunk
	Finish    llm.FinishReason
	Usage     *llm.Usage // the last usage seen
	Err       error      // nil when the stream ended with io.EOF
}

// Drain reads s to its end (io.EOF or an error) and closes it. It checks
// the chunk rules every provider follows: every chunk carries something
// (upstream.Carries), nothing but usage (or logprobs) follows a finish,
// io.EOF only after a finish, and the end is sticky.
func Drain(t testing.TB, s llm.Stream) Result {
	t.Helper()
	defer s.Close()
	var r Result
	for {
		c, err := s.Recv()
		if err != nil {
			if err == io.EOF {
				if r.Finish == llm.FinishNone {
					t.Errorf("io.EOF without a finish reason after %q", r.Text)
				}
			} else {
				r.Err = err
			}
			if _, again := s.Recv(); again != err {
				t.Errorf("Recv after the end = %v, want the same %v", again, err)
			}
			return r
		}
		if !upstream.Carries(c) {
			t.Errorf("empty chunk %+v", c)
		}
		if r.Finish != llm.FinishNone && (c.Text != "" || c.Reasoning != "" || len(c.ToolCalls) > 0 || c.FinishReason != llm.FinishNone) {
			t.Errorf("chunk %+v after the finish", c)
		}
		r.Chunks = append(r.Chunks, c)
		r.Text += c.Text
		r.Reasoning += c.Reasoning
		r.ToolCalls = append(r.ToolCalls, c.ToolCalls...)
		r.Logprobs = append(r.Logprobs, c.Logprobs...)
		if c.FinishReason != llm.FinishNone {
			r.Finish = c.FinishReason
		}
		if c.Usage != nil {
			u := *c.Usage
			r.Usage = &u
		}
	}
}

// Prompt is the request the suite sends: five words, so the fake servers
// report 5 prompt tokens.
func Prompt() llm.Request { return llm.Prompt("Say hello to the world") }

// Run runs the suite for the provider newProvider builds, against servers of
// format.
func Run(t *testing.T, format llmtest.Format, newProvider Factory) {
	start := func(t *testing.T, scripts ...llmtest.Script) (llm.Provider, *llmtest.Server) {
		s := llmtest.New(t, format, scripts...)
		return newProvider(t, s.URL, s.Client()), s
	}
	open := func(t *testing.T, ctx context.Context, p llm.Provider) llm.Stream {
		t.Helper()
		st, err := p.Stream(ctx, Prompt())
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		return st
	}
	stream, _ := llmtest.Fixture(format.String() + "_stream.txt")

	t.Run("answers", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			script llmtest.Script
			text   string
			finish llm.FinishReason
			usage  llm.Usage
		}{
			{"stop", llmtest.Answer("Hello", ",", " world", "!"), "Hello, world!", llm.FinishStop, llm.Usage{PromptTokens: 5, CompletionTokens: 4}},
			{"length", llmtest.Finished(llm.FinishLength, "Hello", ",", " wor"), "Hello, wor", llm.FinishLength, llm.Usage{PromptTokens: 5, CompletionTokens: 3}},
			{"content filter", llmtest.Finished(llm.FinishContentFilter, "Hel"), "Hel", llm.FinishContentFilter, llm.Usage{PromptTokens: 5, CompletionTokens: 1}},
			{"empty answer", llmtest.Answer(), "", llm.FinishStop, llm.Usage{PromptTokens: 5}},
			{"scripted usage", func() llmtest.Script {
				s := llmtest.Answer("Hi")
				s.Usage = &llm.Usage{PromptTokens: 1234, CompletionTokens: 5678}
				return s
			}(), "Hi", llm.FinishStop, llm.Usage{PromptTokens: 1234, CompletionTokens: 5678}},
			{"text and finish in one step", llmtest.Script{Steps: []llmtest.Step{{Text: "Hi"}, {Text: "!", Finish: llm.FinishStop}, {Usage: true}, {Done: true}}},
				"Hi!", llm.FinishStop, llm.Usage{PromptTokens: 5, CompletionTokens: 2}},
			{"fixture replay", llmtest.Replay(stream), "Hello, world!", llm.FinishStop, llm.Usage{PromptTokens: 5, CompletionTokens: 4}},
			{"finish without end marker", llmtest.Script{Steps: []llmtest.Step{{Text: "Hi"}, {Finish: llm.FinishStop}, {Usage: true}}},
				"Hi", llm.FinishStop, llm.Usage{PromptTokens: 5, CompletionTokens: 1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p, s := start(t, tc.script)
				r := Drain(t, open(t, t.Context(), p))
				if r.Err != nil || r.Text != tc.text || r.Finish != tc.finish {
					t.Fatalf("got %q, %q, %v; want %q, %q", r.Text, r.Finish, r.Err, tc.text, tc.finish)
				}
				if r.Usage == nil || *r.Usage != tc.usage {
					t.Fatalf("usage %+v, want %+v", r.Usage, tc.usage)
				}
				reqs := s.Requests()
				if len(reqs) != 1 {
					t.Fatalf("%d requests, want 1", len(reqs))
				}
				if got := reqs[0].Header.Get("Authorization"); got != "Bearer "+Secret {
					t.Fatalf("Authorization %q, want the bearer key", got)
				}
			})
		}
	})

	t.Run("concurrent streams", func(t *testing.T) {
		p, s := start(t, llmtest.Answer("Hello", " world"))
		const n = 8
		errs := make(chan error, n)
		for range n {
			go func() {
				st, err := p.Stream(t.Context(), Prompt())
				if err == nil {
					r := Drain(t, st)
					if err = r.Err; err == nil && r.Text != "Hello world" {
						err = fmt.Errorf("text %q", r.Text)
					}
				}
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if s.Count() != n {
			t.Fatalf("%d requests, want %d", s.Count(), n)
		}
	})

	t.Run("model and max tokens", func(t *testing.T) {
		p, s := start(t, llmtest.Answer("a"))
		req := Prompt()
		req.Model, req.MaxTokens = "special-model", 7
		if r := Drain(t, mustStream(t, p, req)); r.Err != nil {
			t.Fatal(r.Err)
		}
		got := s.Requests()[0]
		if got.Model != "special-model" || got.MaxTokens != 7 {
			t.Fatalf("sent model %q max tokens %d, want special-model 7", got.Model, got.MaxTokens)
		}
	})

	t.Run("invalid request", func(t *testing.T) {
		p, s := start(t, llmtest.Answer("a"))
		for _, req := range []llm.Request{{}, {Messages: []llm.Message{{Role: "tool", Content: "x"}}}} {
			if _, err := p.Stream(t.Context(), req); !errors.Is(err, llm.ErrInvalidRequest) {
				t.Fatalf("Stream(%+v) = %v, want ErrInvalidRequest", req, err)
			}
		}
		if n := s.Count(); n != 0 {
			t.Fatalf("%d requests sent for invalid requests", n)
		}
	})

	t.Run("status", func(t *testing.T) {
		for _, tc := range []struct {
			script     llmtest.Script
			retryAfter time.Duration
		}{
			{llmtest.Status(429, "3"), 3 * time.Second},
			{llmtest.Status(500, ""), 0},
			{llmtest.Status(503, "1.5"), 1500 * time.Millisecond},
			{llmtest.Status(529, ""), 0},
			{llmtest.Status(400, ""), 0},
			{llmtest.Script{Status: 401, Message: "Incorrect API key provided: " + Secret}, 0},
		} {
			t.Run(fmt.Sprint(tc.script.Status), func(t *testing.T) {
				p, _ := start(t, tc.script)
				st, err := p.Stream(t.Context(), Prompt())
				var se *llm.StatusError
				if st != nil || !errors.As(err, &se) || !errors.Is(err, llm.ErrUpstream) {
					t.Fatalf("Stream = %v, %v; want a StatusError", st, err)
				}
				if se.StatusCode != tc.script.Status || se.RetryAfter != tc.retryAfter || se.Message == "" {
					t.Fatalf("StatusError %+v, want status %d retry after %v", se, tc.script.Status, tc.retryAfter)
				}
				NoSecret(t, err)
			})
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		u, err := llmtest.ClosedURL()
		if err != nil {
			t.Fatal(err)
		}
		base := u
		if format == llmtest.OpenAI {
			base += "/v1"
		}
		p := newProvider(t, base, nil)
		_, err = p.Stream(t.Context(), Prompt())
		if !errors.Is(err, llm.ErrUpstream) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Stream = %v, want ErrUpstream and ECONNREFUSED", err)
		}
		NoSecret(t, err)
	})

	t.Run("hang up before answering", func(t *testing.T) {
		p, _ := start(t, llmtest.Script{Hangup: true})
		if _, err := p.Stream(t.Context(), Prompt()); !errors.Is(err, llm.ErrUpstream) || !errors.Is(err, io.EOF) {
			t.Fatalf("Stream = %v, want ErrUpstream and EOF", err)
		}
	})

	t.Run("broken streams", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			script llmtest.Script
			text   string
			check  func(error) bool
		}{
			{"cut mid-answer", llmtest.CutAfter("Hello", " wor"), "Hello wor", func(err error) bool {
				return errors.Is(err, llm.ErrStreamCut) && errors.Is(err, io.ErrUnexpectedEOF)
			}},
			{"clean end without finish", llmtest.EndAfter("Hello"), "Hello", func(err error) bool {
				return errors.Is(err, llm.ErrStreamCut)
			}},
			{"end marker without finish", llmtest.Script{Steps: []llmtest.Step{{Text: "Hello"}, {Done: true}}}, "Hello", func(err error) bool {
				return errors.Is(err, llm.ErrStreamCut)
			}},
			{"cut before any text", llmtest.CutAfter(), "", func(err error) bool {
				return errors.Is(err, llm.ErrStreamCut)
			}},
			{"error object mid-stream", llmtest.ErrorAfter("boom "+Secret, "Hello"), "Hello", func(err error) bool {
				var se *llm.StreamError
				return errors.As(err, &se) && strings.HasPrefix(se.Message, "boom ") && se.Type != ""
			}},
			{"malformed chunk", llmtest.MalformedAfter("Hello"), "Hello", func(err error) bool {
				return errors.Is(err, llm.ErrMalformed)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p, _ := start(t, tc.script)
				r := Drain(t, open(t, t.Context(), p))
				if r.Text != tc.text || r.Finish != llm.FinishNone {
					t.Fatalf("delivered %q (finish %q), want %q", r.Text, r.Finish, tc.text)
				}
				if !errors.Is(r.Err, llm.ErrUpstream) || !tc.check(r.Err) {
					t.Fatalf("end = %v", r.Err)
				}
				NoSecret(t, r.Err)
			})
		}
	})

	t.Run("cancel", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			script llmtest.Script
			before string // text to read before the stall
		}{
			{"before the first token", llmtest.StallAfter(nil, "late"), ""},
			{"between tokens", llmtest.StallAfter([]string{"Hello"}, "late"), "Hello"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p, s := start(t, tc.script)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				st := open(t, ctx, p)
				defer st.Close()
				if tc.before != "" {
					if c, err := st.Recv(); err != nil || c.Text != tc.before {
						t.Fatalf("Recv = %+v, %v; want %q", c, err, tc.before)
					}
				}
				got := make(chan error, 1)
				go func() {
					_, err := st.Recv()
					got <- err
				}()
				wait, stop := context.WithTimeout(t.Context(), hang)
				defer stop()
				if _, err := s.WaitStalled(wait); err != nil {
					t.Fatal(err)
				}
				cancelled := time.Now()
				cancel()
				var err error
				select {
				case err = <-got:
				case <-wait.Done():
					t.Fatal("Recv did not return after the cancel")
				}
				returned := time.Since(cancelled)
				if !errors.Is(err, context.Canceled) || errors.Is(err, llm.ErrUpstream) {
					t.Fatalf("Recv = %v, want context.Canceled and no ErrUpstream", err)
				}
				d, werr := s.WaitDisconnect(wait)
				if werr != nil {
					t.Fatalf("the server never saw the client go: %v", werr)
				}
				t.Logf("cancel → Recv returned %v, → upstream saw the disconnect %v", returned, d.At.Sub(cancelled))
			})
		}
	})

	t.Run("cancel while waiting for headers", func(t *testing.T) {
		p, s := start(t, llmtest.Script{StallHeaders: true})
		ctx, cancel := context.WithCancel(t.Context())
		got := make(chan error, 1)
		go func() {
			st, err := p.Stream(ctx, Prompt())
			if st != nil {
				st.Close()
			}
			got <- err
		}()
		wait, stop := context.WithTimeout(t.Context(), hang)
		defer stop()
		if _, err := s.WaitStalled(wait); err != nil {
			t.Fatal(err)
		}
		cancelled := time.Now()
		cancel()
		if err := <-got; !errors.Is(err, context.Canceled) || errors.Is(err, llm.ErrUpstream) {
			t.Fatalf("Stream = %v, want context.Canceled", err)
		}
		d, err := s.WaitDisconnect(wait)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("cancel → upstream saw the disconnect %v", d.At.Sub(cancelled))
	})

	t.Run("close aborts the upstream request", func(t *testing.T) {
		p, s := start(t, llmtest.StallAfter([]string{"Hello"}, "late"))
		st := open(t, t.Context(), p)
		if c, err := st.Recv(); err != nil || c.Text != "Hello" {
			t.Fatalf("Recv = %+v, %v", c, err)
		}
		wait, stop := context.WithTimeout(t.Context(), hang)
		defer stop()
		if _, err := s.WaitStalled(wait); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := st.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
		}
		if _, err := s.WaitDisconnect(wait); err != nil {
			t.Fatalf("the server never saw the client go: %v", err)
		}
		if _, err := st.Recv(); err == nil || err == io.EOF {
			t.Fatalf("Recv after Close = %v, want an error", err)
		}
	})

	t.Run("cancelled before Stream", func(t *testing.T) {
		p, _ := start(t, llmtest.Answer("a"))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := p.Stream(ctx, Prompt()); !errors.Is(err, context.Canceled) {
			t.Fatalf("Stream = %v, want context.Canceled", err)
		}
	})

	t.Run("cancel after the finish", func(t *testing.T) {
		p, _ := start(t, llmtest.Answer("a"))
		ctx, cancel := context.WithCancel(t.Context())
		st := open(t, ctx, p)
		defer st.Close()
		for {
			c, err := st.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if c.FinishReason != llm.FinishNone {
				break
			}
		}
		cancel()
		if _, err := st.Recv(); !errors.Is(err, context.Canceled) && err != io.EOF {
			t.Fatalf("Recv after finish and cancel = %v", err)
		}
	})
}

// mustStream opens a stream on p or fails the test.
func mustStream(t *testing.T, p llm.Provider, req llm.Request) llm.Stream {
	t.Helper()
	st, err := p.Stream(t.Context(), req)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	return st
}

// NoSecret fails the test if err's message (or its %+v form) holds Secret.
func NoSecret(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, Secret) {
			t.Fatalf("the API key appears in the error: %s", s)
		}
	}
}

// SentJSON returns the JSON body of the only request s received.
func SentJSON(t testing.TB, s *llmtest.Server) map[string]any {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	var body map[string]any
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

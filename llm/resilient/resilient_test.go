package resilient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/resilient"
)

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("p: %w: %w", llm.ErrUpstream, err) }
	for _, tc := range []struct {
		err  error
		want resilient.Kind
	}{
		{nil, resilient.KindNone},
		{fmt.Errorf("x: %w", context.Canceled), resilient.KindCancelled},
		{&url.Error{Op: "Post", URL: "u", Err: context.Canceled}, resilient.KindCancelled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), resilient.KindTimeout},
		{wrap(timeoutErr{}), resilient.KindTimeout},
		{status(429, 0), resilient.KindStatus429},
		{status(408, 0), resilient.KindStatus408},
		{status(409, 0), resilient.KindStatus4xx},
		{status(500, 0), resilient.KindStatus5xx},
		{status(529, 0), resilient.KindStatus5xx},
		{status(400, 0), resilient.KindStatus4xx},
		{status(401, 0), resilient.KindStatus4xx},
		{fmt.Errorf("%w: 3 attempts: %w", resilient.ErrExhausted, status(503, 0)), resilient.KindStatus5xx},
		{fmt.Errorf("p: %w", &llm.StreamError{Message: "boom"}), resilient.KindStreamError},
		{fmt.Errorf("p: %w: %w: bad", llm.ErrUpstream, llm.ErrMalformed), resilient.KindMalformed},
		{fmt.Errorf("p: %w: %w", llm.ErrUpstream, llm.ErrStreamCut), resilient.KindStreamCut},
		{fmt.Errorf("p: %w: %w: %w", llm.ErrUpstream, llm.ErrStreamCut, syscall.ECONNRESET), resilient.KindStreamCut},
		{fmt.Errorf("p: %w", llm.ErrInvalidRequest), resilient.KindInvalidRequest},
		{wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), resilient.KindConnect},
		{wrap(syscall.ECONNRESET), resilient.KindConnect},
		{wrap(&url.Error{Op: "Post", URL: "u", Err: io.EOF}), resilient.KindConnect},
		{wrap(io.ErrUnexpectedEOF), resilient.KindConnect},
		{wrap(&net.DNSError{Err: "no such host", Name: "x"}), resilient.KindConnect},
		{errors.New("what"), resilient.KindOther},
		{llm.ErrUpstream, resilient.KindOther},
	} {
		if got := resilient.Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestKindProperties(t *testing.T) {
	retryable := map[resilient.Kind]bool{
		resilient.KindConnect: true, resilient.KindStatus429: true, resilient.KindStatus408: true, resilient.KindStatus5xx: true,
		resilient.KindTimeout: true, resilient.KindStreamCut: true,
	}
	notUpstream := map[resilient.Kind]bool{resilient.KindCancelled: true, resilient.KindInvalidRequest: true}
	for _, k := range resilient.Kinds() {
		if k.Retryable() != retryable[k] {
			t.Errorf("%s.Retryable() = %v", k, k.Retryable())
		}
		if k.Upstream() == notUpstream[k] {
			t.Errorf("%s.Upstream() = %v", k, k.Upstream())
		}
	}
	if resilient.KindNone.Retryable() || resilient.KindNone.Upstream() {
		t.Error("KindNone is retryable or an upstream error")
	}
	if len(resilient.Kinds()) != 12 {
		t.Errorf("Kinds() = %v", resilient.Kinds())
	}
}

func TestBackoffGrowsWithEqualJitter(t *testing.T) {
	for _, tc := range []struct {
		rand float64
		want []float64 // milliseconds
	}{
		// d = 100, 200, 400, 800, 1000 (capped); wait = d/2 + rand·d/2.
		{0, []float64{50, 100, 200, 400, 500}},
		{0.5, []float64{75, 150, 300, 600, 750}},
		{0.999, []float64{99.95, 199.9, 399.8, 799.6, 999.5}},
		{1.5, []float64{50, 100, 200, 400, 500}}, // out of range: treated as 0
	} {
		c := &clock{}
		p := newResilient(t, resilient.Config{
			Upstreams:   []resilient.Upstream{{Name: "a", Provider: newFake("a", fail(status(503, 0)))}},
			Retries:     5,
			BaseBackoff: 100 * time.Millisecond,
			MaxBackoff:  time.Second,
			Rand:        func() float64 { return tc.rand },
			After:       c.After,
		})
		_, err := p.Stream(t.Context(), llm.Prompt("x"))
		if !errors.Is(err, resilient.ErrExhausted) {
			t.Fatalf("Stream = %v, want ErrExhausted", err)
		}
		got := c.Waits()
		if len(got) != len(tc.want) {
			t.Fatalf("rand %v: waits %v, want %d of them", tc.rand, got, len(tc.want))
		}
		for i := range got {
			want := time.Duration(tc.want[i] * float64(time.Millisecond))
			if diff := got[i] - want; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("rand %v: wait %d = %v, want %v", tc.rand, i, got[i], want)
			}
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	c, r := &clock{}, &recorder{}
	a := newFake("a", fail(status(429, 7*time.Second)), words("hi"))
	p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}, After: c.After, Observer: r, Rand: half})
	s, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	if text, err := drain(t, s); text != "hi" || err != nil {
		t.Fatalf("drain = %q, %v", text, err)
	}
	expectEvents(t, r, "attempt a 1", "error a status_429", "retry a status_429 7s", "attempt a 2")
	if p.Name() != "a" {
		t.Fatalf("Name = %q, want the first upstream's", p.Name())
	}
}

func TestRetryAfterBeyondMaxFallsBack(t *testing.T) {
	c, r := &clock{}, &recorder{}
	a := newFake("a", fail(status(429, 2*time.Minute)))
	b := newFake("b", words("hi"))
	p := newResilient(t, resilient.Config{
		Upstreams: []resilient.Upstream{{Provider: a}, {Provider: b}},
		After:     c.After, Observer: r,
	})
	s, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(c.Waits()) != 0 {
		t.Fatalf("waited %v", c.Waits())
	}
	expectEvents(t, r, "attempt a 1", "error a status_429", "fallback a status_429 b", "attempt b 1")

	// Without a fallback it fails at once, as exhausted.
	p = newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}, After: c.After})
	_, err = p.Stream(t.Context(), llm.Prompt("x"))
	if !errors.Is(err, resilient.ErrExhausted) || resilient.Classify(err) != resilient.KindStatus429 || len(c.Waits()) != 0 {
		t.Fatalf("Stream = %v, want ErrExhausted of kind status_429 without a wait", err)
	}
	if !strings.Contains(err.Error(), "after 1 attempt on a: ") {
		t.Fatalf("message %q", err)
	}
}

func TestNotRetried(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind resilient.Kind
	}{
		{status(400, 0), resilient.KindStatus4xx},
		{status(404, time.Second), resilient.KindStatus4xx},
		{fmt.Errorf("p: %w", llm.ErrInvalidRequest), resilient.KindInvalidRequest},
		{fmt.Errorf("p: %w", &llm.StreamError{Message: "x"}), resilient.KindStreamError},
		{fmt.Errorf("p: %w: %w", llm.ErrUpstream, llm.ErrMalformed), resilient.KindMalformed},
		{errors.New("odd"), resilient.KindOther},
	} {
		c, r := &clock{}, &recorder{}
		a, b := newFake("a", fail(tc.err)), newFake("b", words("hi"))
		p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}, {Provider: b}}, After: c.After, Observer: r})
		_, err := p.Stream(t.Context(), llm.Prompt("x"))
		if !errors.Is(err, tc.err) || resilient.Classify(err) != tc.kind || errors.Is(err, resilient.ErrExhausted) {
			t.Errorf("%v: Stream = %v", tc.err, err)
		}
		if a.Opened() != 1 || b.Opened() != 0 || len(c.Waits()) != 0 {
			t.Errorf("%v: opened %d and %d, waited %v; want 1 attempt, no fallback, no wait", tc.err, a.Opened(), b.Opened(), c.Waits())
		}
		expectEvents(t, r, "attempt a 1", "error a "+string(tc.kind))
	}
}

func TestFailedFirstReadIsRetried(t *testing.T) {
	c, r := &clock{}, &recorder{}
	cut := fmt.Errorf("p: %w: %w", llm.ErrUpstream, llm.ErrStreamCut)
	a := newFake("a",
		attempt{items: []item{{chunk: llm.Chunk{}}, {err: cut}}}, // cut before the first chunk
		attempt{},                         // io.EOF before the first chunk
		attempt{items: words("hi").items}, // the third attempt answers
	)
	p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}, After: c.After, Observer: r, Rand: half})
	s, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	if text, err := drain(t, s); text != "hi" || err != nil {
		t.Fatalf("drain = %q, %v", text, err)
	}
	expectEvents(t, r, "attempt a 1", "error a stream_cut", "retry a stream_cut 150ms",
		"attempt a 2", "error a stream_cut", "retry a stream_cut 300ms", "attempt a 3")
	if !a.allClosed() {
		t.Fatal("a failed attempt's stream was not closed")
	}
}

func TestFirstChunkIsBufferedAndEmptyChunksSkipped(t *testing.T) {
	usage := &llm.Usage{PromptTokens: 1}
	a := newFake("a", attempt{items: []item{
		{chunk: llm.Chunk{}}, {chunk: llm.Chunk{}},
		{chunk: llm.Chunk{Usage: usage}},
		{chunk: llm.Chunk{Text: "x"}},
		{chunk: llm.Chunk{FinishReason: llm.FinishLength}},
	}})
	p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}})
	s, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, want := range []llm.Chunk{{Usage: usage}, {Text: "x"}, {FinishReason: llm.FinishLength}} {
		if c, err := s.Recv(); err != nil || !reflect.DeepEqual(c, want) {
			t.Fatalf("Recv = %+v, %v; want %+v", c, err, want)
		}
	}
	for range 2 {
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("Recv after the finish = %v, want io.EOF", err)
		}
	}
	s.Close()
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("Recv after Close of an ended stream = %v, want io.EOF", err)
	}
}

// TestFirstChunkWithoutText checks that a first chunk holding only
// reasoning, a tool-call piece or logprobs ends the retryable phase: it is
// content, and a retry would send it twice.
func TestFirstChunkWithoutText(t *testing.T) {
	for _, first := range []llm.Chunk{
		{Reasoning: "hm"},
		{ToolCalls: []llm.ToolCallDelta{{ID: "call_1", Name: "f"}}},
		{Logprobs: []llm.TokenLogprob{{Token: "", Logprob: -1}}},
	} {
		a := newFake("a", attempt{items: []item{{chunk: llm.Chunk{}}, {chunk: first}, {err: fmt.Errorf("p: %w", &llm.StatusError{StatusCode: 503})}}})
		p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}})
		s, err := p.Stream(t.Context(), llm.Prompt("x"))
		if err != nil {
			t.Fatalf("%+v: Stream = %v", first, err)
		}
		if c, err := s.Recv(); err != nil || !reflect.DeepEqual(c, first) {
			t.Fatalf("Recv = %+v, %v; want %+v", c, err, first)
		}
		if _, err := s.Recv(); err == nil || a.Opened() != 1 {
			t.Fatalf("Recv = %v after %d attempts; want the 503, not a retry", err, a.Opened())
		}
		s.Close()
	}
}

func TestNeverRetriedAfterFirstToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  item
		kind resilient.Kind
	}{
		{"5xx-like error", item{err: status(503, 0)}, resilient.KindStatus5xx},
		{"cut", item{err: fmt.Errorf("p: %w: %w", llm.ErrUpstream, llm.ErrStreamCut)}, resilient.KindStreamCut},
		{"io.EOF without finish", item{err: io.EOF}, resilient.KindStreamCut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, r := &clock{}, &recorder{}
			a := newFake("a", attempt{items: []item{{chunk: llm.Chunk{Text: "Hel"}}, tc.end}}, words("never"))
			b := newFake("b", words("never"))
			p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}, {Provider: b}}, After: c.After, Observer: r})
			s, err := p.Stream(t.Context(), llm.Prompt("x"))
			if err != nil {
				t.Fatal(err)
			}
			text, err := drain(t, s)
			if text != "Hel" || resilient.Classify(err) != tc.kind || !errors.Is(err, llm.ErrUpstream) {
				t.Fatalf("drain = %q, %v (kind %s)", text, err, resilient.Classify(err))
			}
			if a.Opened() != 1 || b.Opened() != 0 || len(c.Waits()) != 0 {
				t.Fatalf("retried after the first token: %d, %d opens, waits %v", a.Opened(), b.Opened(), c.Waits())
			}
			expectEvents(t, r, "attempt a 1", "error a "+string(tc.kind))
		})
	}
}

func TestExhaustedAndFallback(t *testing.T) {
	c, r := &clock{}, &recorder{}
	a := newFake("a", fail(status(500, 0)))
	b := newFake("b", fail(status(502, 0)))
	p := newResilient(t, resilient.Config{
		Upstreams: []resilient.Upstream{{Name: "primary", Provider: a}, {Name: "secondary", Provider: b}},
		Retries:   1, After: c.After, Observer: r, Rand: half,
	})
	_, err := p.Stream(t.Context(), llm.Prompt("x"))
	if !errors.Is(err, resilient.ErrExhausted) || resilient.Classify(err) != resilient.KindStatus5xx {
		t.Fatalf("Stream = %v, want ErrExhausted of kind status_5xx", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "after 2 attempts on primary, 2 on secondary: ") || !strings.Contains(msg, "502") {
		t.Fatalf("message %q", msg)
	}
	expectEvents(t, r,
		"attempt primary 1", "error primary status_5xx", "retry primary status_5xx 150ms", "attempt primary 2", "error primary status_5xx",
		"fallback primary status_5xx secondary",
		"attempt secondary 1", "error secondary status_5xx", "retry secondary status_5xx 150ms", "attempt secondary 2", "error secondary status_5xx")
	if p.Name() != "primary" {
		t.Fatalf("Name = %q", p.Name())
	}
}

func TestNoRetries(t *testing.T) {
	a := newFake("a", fail(status(500, 0)), words("hi"))
	p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}, Retries: -1})
	if _, err := p.Stream(t.Context(), llm.Prompt("x")); !errors.Is(err, resilient.ErrExhausted) || a.Opened() != 1 {
		t.Fatalf("Stream = %v after %d attempts, want ErrExhausted after 1", err, a.Opened())
	}
}

func TestDeadlineBoundsTheWait(t *testing.T) {
	c, r := &clock{}, &recorder{}
	a := newFake("a", fail(status(503, 0)))
	// The first wait is at least a minute (half of two, plus jitter); the
	// deadline is a minute away.
	p := newResilient(t, resilient.Config{
		Upstreams:   []resilient.Upstream{{Provider: a}},
		BaseBackoff: 2 * time.Minute, MaxBackoff: 2 * time.Minute,
		After: c.After, Observer: r,
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := p.Stream(ctx, llm.Prompt("x"))
	if !errors.Is(err, resilient.ErrDeadline) || resilient.Classify(err) != resilient.KindStatus5xx || ctx.Err() != nil {
		t.Fatalf("Stream = %v (ctx %v), want ErrDeadline of kind status_5xx before the deadline", err, ctx.Err())
	}
	if len(c.Waits()) != 0 || a.Opened() != 1 {
		t.Fatalf("waited %v after %d attempts", c.Waits(), a.Opened())
	}
	expectEvents(t, r, "attempt a 1", "error a status_5xx")

	// A Retry-After past the deadline: the same, and a fallback is tried at
	// once.
	b := newFake("b", words("hi"))
	a = newFake("a", fail(status(429, 2*time.Minute)))
	p = newResilient(t, resilient.Config{
		Upstreams:     []resilient.Upstream{{Provider: a}, {Provider: b}},
		MaxRetryAfter: time.Hour, After: c.After,
	})
	s, err := p.Stream(ctx, llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(c.Waits()) != 0 || a.Opened() != 1 || b.Opened() != 1 {
		t.Fatalf("waited %v; opened %d, %d", c.Waits(), a.Opened(), b.Opened())
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	c := &clock{block: true, waiting: make(chan struct{}, 1)}
	r := &recorder{}
	a := newFake("a", fail(status(500, 0)))
	p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}, After: c.After, Observer: r, Rand: half})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error)
	go func() {
		_, err := p.Stream(ctx, llm.Prompt("x"))
		errc <- err
	}()
	<-c.waiting
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || resilient.Classify(err) != resilient.KindCancelled {
		t.Fatalf("Stream = %v, want context.Canceled", err)
	}
	// Nothing was in flight during the wait: no abort to report.
	expectEvents(t, r, "attempt a 1", "error a status_5xx", "retry a status_5xx 150ms")
}

func TestCancelReportsAbort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		items []item
		recv  bool // read the first chunk, then block in Recv
	}{
		{"before the first chunk", []item{{stall: true}}, false},
		{"in Recv", []item{{chunk: llm.Chunk{Text: "a"}}, {stall: true}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			a := newFake("a", attempt{items: tc.items})
			p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}, Observer: r})
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error)
			go func() {
				s, err := p.Stream(ctx, llm.Prompt("x"))
				if err == nil {
					if _, err = s.Recv(); err != nil {
						t.Error(err)
					}
					cancel()
					_, err = s.Recv()
					s.Close()
					s.Close()
				}
				errc <- err
			}()
			if !tc.recv {
				<-a.stalls // Stream is blocked in its first read
				cancel()
			}
			err := <-errc
			if !errors.Is(err, context.Canceled) || resilient.Classify(err) != resilient.KindCancelled {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			expectEvents(t, r, "attempt a 1", "aborted a")
			if !a.allClosed() {
				t.Fatal("the inner stream was not closed")
			}
		})
	}
}

func TestCloseAfterCancelReportsAbort(t *testing.T) {
	r := &recorder{}
	a := newFake("a", attempt{items: []item{{chunk: llm.Chunk{Text: "a"}}, {stall: true}}})
	p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}, Observer: r})
	ctx, cancel := context.WithCancel(t.Context())
	s, err := p.Stream(ctx, llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	s.Close()
	if _, err := s.Recv(); !errors.Is(err, resilient.ErrClosed) {
		t.Fatalf("Recv after Close = %v, want ErrClosed", err)
	}
	expectEvents(t, r, "attempt a 1", "aborted a")

	// A cancel after the stream ended is no abort.
	r = &recorder{}
	p = newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: newFake("a", words("x"))}}, Observer: r})
	ctx, cancel = context.WithCancel(t.Context())
	s, err = p.Stream(ctx, llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drainNoClose(s); err != nil {
		t.Fatal(err)
	}
	cancel()
	s.Close()
	expectEvents(t, r, "attempt a 1")
}

// drainNoClose reads s to its end without closing it.
func drainNoClose(s llm.Stream) (string, error) {
	var text strings.Builder
	for {
		c, err := s.Recv()
		if err == io.EOF {
			return text.String(), nil
		}
		if err != nil {
			return text.String(), err
		}
		text.WriteString(c.Text)
	}
}

func TestConfig(t *testing.T) {
	a := newFake("a", words("x"))
	for _, cfg := range []resilient.Config{
		{},
		{Upstreams: []resilient.Upstream{{Name: "x"}}},
		{Upstreams: []resilient.Upstream{{Provider: a}, {Provider: a}}},
		{Upstreams: []resilient.Upstream{{Provider: newFake("", words("x"))}}},
		{Upstreams: []resilient.Upstream{{Provider: a}}, Retries: 101},
		{Upstreams: []resilient.Upstream{{Provider: a}}, BaseBackoff: -1},
		{Upstreams: []resilient.Upstream{{Provider: a}}, BaseBackoff: time.Second, MaxBackoff: time.Millisecond},
		{Upstreams: []resilient.Upstream{{Provider: a}}, MaxRetryAfter: -time.Second},
	} {
		if err := cfg.Validate(); !errors.Is(err, resilient.ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
		if _, err := resilient.New(cfg); !errors.Is(err, resilient.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	p := newResilient(t, resilient.Config{Name: "llm", Upstreams: []resilient.Upstream{{Provider: a}}, BaseBackoff: 10 * time.Second})
	if p.Name() != "llm" {
		t.Fatalf("Name = %q", p.Name())
	}
	// The defaults work without injection (nothing here waits).
	s, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	if text, err := drain(t, s); text != "x" || err != nil {
		t.Fatalf("drain = %q, %v", text, err)
	}
	var _ resilient.Observer = resilient.NopObserver{}
}

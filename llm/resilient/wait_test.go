package resilient_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/resilient"
)

// TestAWaitingStreamOpensWithoutItsFirstRead: an upstream stream that can
// wait is returned open, before its first chunk, so that its reader can
// park in Wait; the first Recv reads the first chunk, and Wait is the
// upstream's.
func TestAWaitingStreamOpensWithoutItsFirstRead(t *testing.T) {
	a := newFake("a", words("a", "b"))
	a.waits = true
	p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{{Provider: a}}})
	st, err := p.Stream(t.Context(), llm.Prompt("hi"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inner := a.streams[0]
	if inner.reads != 0 {
		t.Fatalf("Stream read the upstream %d times before returning; want it open and unread", inner.reads)
	}
	w, ok := st.(llm.Waiter)
	if !ok {
		t.Fatal("resilient's stream is not an llm.Waiter")
	}
	w.Wait()
	if c, err := st.Recv(); err != nil || c.Text != "a" {
		t.Fatalf("Recv = %q, %v", c.Text, err)
	}
	w.Wait()
	if inner.waited != 2 {
		t.Fatalf("the upstream's Wait ran %d times, want 2", inner.waited)
	}
}

// TestTheRetryablePhaseIsTheSameOpenedLazily: whatever the retryable
// phase meets, a stream opened lazily (its upstream's streams can wait)
// ends it as Stream does with streams that cannot: the same observer
// calls in the same order, the same upstream calls, the same text, and
// the error Stream would have returned comes from the first Recv.
func TestTheRetryablePhaseIsTheSameOpenedLazily(t *testing.T) {
	cut := attempt{items: []item{{chunk: llm.Chunk{}}}} // ends before anything
	inStream := func(err error) attempt { return attempt{items: []item{{chunk: llm.Chunk{}}, {err: err}}} }
	for _, tc := range []struct {
		name string
		a, b []attempt
	}{
		{"first attempt answers", []attempt{words("hi")}, nil},
		{"cut before the first chunk, then answers", []attempt{cut, words("hi")}, nil},
		{"a 503 in the stream, then answers", []attempt{inStream(status(503, 0)), words("hi")}, nil},
		{"a 429 with Retry-After in the stream, then answers", []attempt{inStream(status(429, 3*time.Second)), words("hi")}, nil},
		{"an error object in the stream is not retried", []attempt{inStream(fmt.Errorf("p: %w", &llm.StreamError{Message: "bad"})), words("never")}, []attempt{words("never")}},
		{"a 400 at open is not retried", []attempt{fail(status(400, 0))}, []attempt{words("never")}},
		{"used up, then the fallback answers", []attempt{cut}, []attempt{words("hi")}},
		{"the fallback is cut too: exhausted", []attempt{inStream(status(500, 0))}, []attempt{cut}},
		{"a Retry-After too long gives up the upstream", []attempt{inStream(status(429, 2*time.Minute))}, []attempt{inStream(status(502, 0)), words("hi")}},
		{"open fails, then a lazy stream is cut, then answers", []attempt{fail(status(502, 0)), cut, words("hi")}, nil},
		{"a cut after the first chunk is not retried", []attempt{{items: []item{{chunk: llm.Chunk{Text: "He"}}}}, words("never")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(waits bool) (events []string, text string, err error, opened []int) {
				rec := &recorder{}
				ups := []resilient.Upstream{}
				var fakes []*fake
				for i, as := range [][]attempt{tc.a, tc.b} {
					if as == nil {
						continue
					}
					f := newFake(string(rune('a'+i)), as...)
					f.waits = waits
					fakes = append(fakes, f)
					ups = append(ups, resilient.Upstream{Provider: f})
				}
				p := newResilient(t, resilient.Config{Upstreams: ups, Observer: rec, After: (&clock{}).After, Rand: func() float64 { return 0.5 }})
				st, err := p.Stream(context.Background(), llm.Prompt("hi"))
				if err == nil {
					text, err = drain(t, st)
				}
				for _, f := range fakes {
					opened = append(opened, f.Opened())
					if !f.allClosed() {
						t.Errorf("waits=%v: a stream of %s was left open", waits, f.name)
					}
				}
				return rec.Events(), text, err, opened
			}
			ev1, text1, err1, opened1 := run(false)
			ev2, text2, err2, opened2 := run(true)
			if strings.Join(ev1, "\n") != strings.Join(ev2, "\n") {
				t.Errorf("observer calls differ:\n  eager: %s\n  lazy:  %s", strings.Join(ev1, "\n         "), strings.Join(ev2, "\n         "))
			}
			if text1 != text2 || fmt.Sprint(err1) != fmt.Sprint(err2) || fmt.Sprint(opened1) != fmt.Sprint(opened2) {
				t.Errorf("eager: %q, %v, calls %v; lazy: %q, %v, calls %v", text1, err1, opened1, text2, err2, opened2)
			}
			if resilient.Classify(err1) != resilient.Classify(err2) {
				t.Errorf("kinds differ: %s, %s", resilient.Classify(err1), resilient.Classify(err2))
			}
		})
	}
}

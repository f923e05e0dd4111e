package resilient_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/resilient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a fake Config.After: it records every wait and, unless blocked,
// fires at once, so no test sleeps.
type clock struct {
	mu      sync.Mutex
	waits   []time.Duration
	block   bool          // never fire
	waiting chan struct{} // if not nil, signalled on every wait
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	block := c.block
	c.mu.Unlock()
	if c.waiting != nil {
		c.waiting <- struct{}{}
	}
	ch := make(chan time.Time, 1)
	if !block {
		ch <- time.Time{}
	}
	return ch
}

func (c *clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// recorder is an Observer that writes every call down.
type recorder struct {
	mu      sync.Mutex
	events  []string
	aborted []time.Duration
	errs    []error
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) Attempt(up string, n int) { r.add("attempt %s %d", up, n) }
func (r *recorder) Retry(up string, k resilient.Kind, wait time.Duration) {
	r.add("retry %s %s %v", up, k, wait)
}
func (r *recorder) Fallback(up string, k resilient.Kind, next string) {
	r.add("fallback %s %s %s", up, k, next)
}
func (r *recorder) Error(up string, k resilient.Kind, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	r.add("error %s %s", up, k)
}
func (r *recorder) Aborted(up string, latency time.Duration) {
	r.mu.Lock()
	r.aborted = append(r.aborted, latency)
	r.mu.Unlock()
	r.add("aborted %s", up)
}

func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// expectEvents fails the test unless r saw exactly want.
func expectEvents(t *testing.T, r *recorder, want ...string) {
	t.Helper()
	got := r.Events()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// item is one Recv result of a list stream.
type item struct {
	chunk llm.Chunk
	err   error
	stall bool // block until the context is done
}

// list is a stream that returns its items in order, then io.EOF.
type list struct {
	ctx    context.Context
	stalls chan struct{} // signalled when a stall starts
	items  []item
	closed bool
	reads  int // Recv calls
	waited int // Wait calls, when it is a waitingList
}

func (l *list) Recv() (llm.Chunk, error) {
	l.reads++
	if l.closed {
		return llm.Chunk{}, fmt.Errorf("list: closed")
	}
	if err := l.ctx.Err(); err != nil {
		return llm.Chunk{}, fmt.Errorf("list: %w", err)
	}
	if len(l.items) == 0 {
		return llm.Chunk{}, io.EOF
	}
	it := l.items[0]
	if it.stall {
		select {
		case l.stalls <- struct{}{}:
		default:
		}
		<-l.ctx.Done()
		return llm.Chunk{}, fmt.Errorf("list: %w", l.ctx.Err())
	}
	l.items = l.items[1:]
	return it.chunk, it.err
}

func (l *list) Close() error { l.closed = true; return nil }

// attempt is what one Stream call of a fake provider does: fail with err,
// or return a list stream of items.
type attempt struct {
	err   error
	items []item
}

// fake is a provider that plays its attempts in order, repeating the last.
type fake struct {
	name     string
	mu       sync.Mutex
	attempts []attempt
	opened   int
	streams  []*list
	stalls   chan struct{} // signalled when one of its streams stalls
	// waits makes its streams llm.Waiters (whose Wait returns at once),
	// which resilient opens lazily.
	waits bool
}

func newFake(name string, attempts ...attempt) *fake {
	return &fake{name: name, attempts: attempts, stalls: make(chan struct{}, 16)}
}

func (f *fake) Name() string { return f.name }

func (f *fake) Stream(ctx context.Context, req llm.Request) (llm.Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.attempts[min(f.opened, len(f.attempts)-1)]
	f.opened++
	if a.err != nil {
		return nil, a.err
	}
	l := &list{ctx: ctx, items: append([]item(nil), a.items...), stalls: f.stalls}
	f.streams = append(f.streams, l)
	if f.waits {
		return waitingList{l}, nil
	}
	return l, nil
}

// waitingList is a list that can wait; it counts its waits.
type waitingList struct{ *list }

func (l waitingList) Wait() { l.waited++ }

func (f *fake) Opened() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opened
}

// allClosed reports whether every stream the fake opened was closed.
func (f *fake) allClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.streams {
		if !l.closed {
			return false
		}
	}
	return true
}

// words is an attempt that answers with texts and a stop.
func words(texts ...string) attempt {
	a := attempt{}
	for _, t := range texts {
		a.items = append(a.items, item{chunk: llm.Chunk{Text: t}})
	}
	a.items = append(a.items, item{chunk: llm.Chunk{FinishReason: llm.FinishStop}})
	return a
}

func fail(err error) attempt { return attempt{err: err} }

func status(code int, retryAfter time.Duration) error {
	return fmt.Errorf("fake: %w", &llm.StatusError{StatusCode: code, RetryAfter: retryAfter, Message: "nope"})
}

// drain reads s to its end and returns the text and the final error (nil
// for io.EOF).
func drain(t *testing.T, s llm.Stream) (string, error) {
	t.Helper()
	defer s.Close()
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

// half returns 0.5, for predictable jitter: the wait is 3/4 of the backoff.
func half() float64 { return 0.5 }

// newResilient builds a provider or fails the test.
func newResilient(t *testing.T, cfg resilient.Config) *resilient.Provider {
	t.Helper()
	p, err := resilient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

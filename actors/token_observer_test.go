package actors

import (
	"sync"
	"testing"
	"testing/synctest"

	"github.com/armistice-go/armistice/llm"
)

// tokenCounter is an Observer that also counts token records as they are
// appended.
type tokenCounter struct {
	NopObserver
	mu     sync.Mutex
	tokens int
}

func (o *tokenCounter) Tokens(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tokens += n
}

func (o *tokenCounter) get() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tokens
}

var _ TokenObserver = (*tokenCounter)(nil)

// A TokenObserver hears of tokens while the request streams, not only at
// its end.
func TestTokenObserverCountsWhileStreaming(t *testing.T) {
	obs := &tokenCounter{}
	scenario(t, func(c *Config) { c.Observer = obs }, func(h *harness) {
		h.submit(prompt("hello"))
		s := h.script()
		s.Token("a")
		s.Token("b")
		synctest.Wait() // the actor takes both tokens
		if got := obs.get(); got != 2 {
			t.Fatalf("tokens while streaming = %d, want 2", got)
		}
		s.Token("c")
		s.Finish(llm.FinishStop, nil)
		synctest.Wait()
		if got := obs.get(); got != 3 {
			t.Fatalf("tokens at the end = %d, want 3", got)
		}
	})
}

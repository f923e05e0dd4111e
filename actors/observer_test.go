package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// recordingObserver keeps what it is told; request actors call it from
// their own goroutines, hence the mutex (test code, not request state).
type recordingObserver struct {
	mu          sync.Mutex
	transitions []string
	firstTokens []time.Duration
	outcomes    []Outcome
	removed     []model.State
	subscribers int
}

func (o *recordingObserver) StateChanged(from, to model.State) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.transitions = append(o.transitions, from.String()+">"+to.String())
}
func (o *recordingObserver) FirstToken(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.firstTokens = append(o.firstTokens, d)
}
func (o *recordingObserver) Finished(out Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes = append(o.outcomes, out)
}
func (o *recordingObserver) Removed(last model.State) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.removed = append(o.removed, last)
}
func (o *recordingObserver) SubscribersChanged(delta int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.subscribers += delta
}

// Both tests run in a scenario, that is inside a testing/synctest bubble:
// their sleeps pass virtual time only.

func TestObserverSeesTheWholeLife(t *testing.T) {
	obs := &recordingObserver{}
	scenario(t, func(c *Config) { c.Observer = obs; c.Linger = time.Second }, func(h *harness) {
		snap := h.submit(prompt("hello"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		time.Sleep(300 * time.Millisecond)
		s.Token("Hi")
		s.Finish(llm.FinishStop, nil)
		h.readAll(sub)
		time.Sleep(2 * time.Second) // past Linger: the actor stops
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if got := obs.transitions; len(got) != 3 || got[0] != "state(0)>pending" || got[1] != "pending>streaming" || got[2] != "streaming>done" {
			t.Fatalf("transitions = %v", got)
		}
		if len(obs.firstTokens) != 1 || obs.firstTokens[0] != 300*time.Millisecond {
			t.Fatalf("first tokens = %v, want [300ms]", obs.firstTokens)
		}
		if len(obs.outcomes) != 1 || obs.outcomes[0].Status != model.StatusCompleted || obs.outcomes[0].Tokens != 1 ||
			obs.outcomes[0].Duration != 300*time.Millisecond || obs.outcomes[0].Queued != 0 {
			t.Fatalf("outcomes = %+v", obs.outcomes)
		}
		if len(obs.removed) != 1 || obs.removed[0] != model.StateDone {
			t.Fatalf("removed = %v", obs.removed)
		}
		if obs.subscribers != 0 {
			t.Fatalf("subscribers = %d after everyone left", obs.subscribers)
		}
	})
}

func TestObserverCountsSubscribersOfAStoppedRequest(t *testing.T) {
	obs := &recordingObserver{}
	scenario(t, func(c *Config) { c.Observer = obs }, func(h *harness) {
		snap := h.submit(prompt("hello"))
		a := h.subscribe(snap.ID, 0)
		b := h.subscribe(snap.ID, 0)
		defer a.Close()
		defer b.Close()
		h.script()
		obs.mu.Lock()
		n := obs.subscribers
		obs.mu.Unlock()
		if n != 2 {
			t.Fatalf("subscribers = %d, want 2", n)
		}
		h.eng.Close()
		time.Sleep(time.Second)
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if obs.subscribers != 0 {
			t.Fatalf("subscribers = %d after the engine closed", obs.subscribers)
		}
		if len(obs.outcomes) != 1 || obs.outcomes[0].Reason != model.ReasonShutdown {
			t.Fatalf("outcomes = %+v", obs.outcomes)
		}
	})
}

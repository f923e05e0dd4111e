package actors

import (
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
)

// Handing a batch to a Subscription's channel allocates nothing: at a
// paced rate every token is a batch of its own, and a batch that escaped
// to the heap (because the branch for a remote subscriber takes its
// address) was one allocation per token, about a fifth of a paced token's
// bytes (BenchmarkPacedToken).
func TestDeliveringToAChannelAllocatesNothing(t *testing.T) {
	cfg := DefaultConfig(scripted.New())
	r := newRequestActor(&cfg, "r1", "o", Spec{})
	r.log.append([]model.Record{{Seq: 1, Kind: model.KindToken, Text: "a"}, {Seq: 2, Kind: model.KindToken, Text: "b"}})
	s := &subscriber{id: 1, max: cfg.BatchSize, ch: make(chan Batch, 4)}
	allocs := testing.AllocsPerRun(100, func() {
		s.cursor, s.credits = 0, 1
		r.deliver(nil, s)
		if b := <-s.ch; len(b.Records) != 2 {
			t.Fatalf("delivered %d records, want 2", len(b.Records))
		}
	})
	if allocs != 0 {
		t.Errorf("a delivery to a channel allocates %.1f times, want 0", allocs)
	}
}

// A token's step allocates what the step returns (its records and
// effects) and nothing to carry the event there: with no step under way
// the Tokens event is applied in place instead of being boxed to wait in
// the step queue, which was 80 of a paced token's bytes
// (BenchmarkPacedToken).
func TestATokenIsNotBoxedToBeStepped(t *testing.T) {
	cfg := DefaultConfig(scripted.New())
	r := newRequestActor(&cfg, "r1", "o", Spec{})
	// Streaming and past its first output: no timer to arm.
	r.life = model.Lifecycle{State: model.StateStreaming, Outputs: 1, Tokens: 1, LastSeq: 1}
	texts := []string{"a"}
	at := time.Unix(1, 0)
	var boxed model.Event = model.Tokens{Texts: texts, At: at}
	life := r.life
	stepOnly := testing.AllocsPerRun(100, func() { model.Step(life, boxed) })
	allocs := testing.AllocsPerRun(100, func() {
		r.stepTokens(nil, model.Tokens{Texts: texts, At: at})
	})
	if allocs > stepOnly {
		t.Errorf("a token's step allocates %.0f times, the step alone %.0f", allocs, stepOnly)
	}
	if r.life.Tokens != 1+101 || r.log.len() != 101 {
		t.Errorf("%d tokens, %d records in the log; want 102 and 101", r.life.Tokens, r.log.len())
	}
}

package actors

import (
	"testing"

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

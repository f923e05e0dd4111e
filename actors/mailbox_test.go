package actors_test

import (
	"context"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// A paced token's whole trip (producer, mailbox run on a worker, step,
// log, delivery, reader) allocates nothing but its share of the log's
// chunks: one 8 KB chunk per 146 tokens, under one allocation per token,
// which AllocsPerRun's rounding down leaves out. proto.actor's default
// mailbox bound its run function at every schedule: one allocation per
// token.
func TestAPacedTokensTripAllocatesNothing(t *testing.T) {
	const runs = 300
	ack := make(chan struct{}, 1)
	cfg := actors.DefaultConfig(lockstep{n: runs + 2, ack: ack})
	cfg.MaxOutputBytes = 0
	eng, err := actors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	snap, err := eng.Submit(ctx, "alloc", actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "p"}}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := eng.Subscribe(ctx, snap.ID, "alloc", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var failed error
	nextToken := func() {
		for failed == nil {
			recs, err := sub.NextBatch(ctx)
			if err != nil {
				failed = err
				return
			}
			if recs[len(recs)-1].Kind == model.KindToken {
				return
			}
		}
	}
	nextToken()
	allocs := testing.AllocsPerRun(runs, func() {
		ack <- struct{}{}
		nextToken()
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Errorf("a paced token's trip made %v allocations, want 0 (the log's chunks aside)", allocs)
	}
}

package actors

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// Whatever the batch size, the bursts of tokens and the reader's pauses,
// a Subscription hands over every record once, in order, never more than
// BatchSize per Next (coalescing several deliveries, splitting one when it
// does not fit), and the end last. scenario runs it in a testing/synctest
// bubble, so the bursts and pauses are virtual time.
func TestSubscriptionHandsOverEveryRecordOnce(t *testing.T) {
	for seed := range 30 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		batch := 1 + rng.IntN(5)
		tokens := 10 + rng.IntN(40)
		bursts := make([]int, 0, tokens)
		for left := tokens; left > 0; {
			n := min(left, 1+rng.IntN(6))
			bursts = append(bursts, n)
			left -= n
		}
		pauses := make([]time.Duration, 64)
		for i := range pauses {
			pauses[i] = time.Duration(rng.IntN(4)) * 15 * time.Millisecond
		}
		t.Run(fmt.Sprintf("seed %d batch %d tokens %d", seed, batch, tokens), func(t *testing.T) {
			scenario(t, func(c *Config) { c.BatchSize = batch }, func(h *harness) {
				snap := h.submit(prompt("p"))
				sub := h.subscribe(snap.ID, 0)
				s := h.script()
				go func() {
					for _, n := range bursts {
						for range n {
							s.Token("x")
						}
						time.Sleep(10 * time.Millisecond)
					}
					s.Finish(llm.FinishStop, nil)
				}()
				var all []model.Record
				for i := 0; ; i++ {
					time.Sleep(pauses[i%len(pauses)])
					recs, err := sub.Next(h.ctx)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("Next: %v after %d records", err, len(all))
					}
					if len(recs) == 0 || len(recs) > batch {
						t.Fatalf("Next returned %d records, want 1 to %d", len(recs), batch)
					}
					all = append(all, recs...)
				}
				for i, r := range all {
					if r.Seq != uint64(i+1) {
						t.Fatalf("record %d has seq %d", i, r.Seq)
					}
				}
				if got := text(all); len(got) != tokens {
					t.Fatalf("%d tokens, want %d", len(got), tokens)
				}
				wantEnd(t, all, model.StateDone, model.StatusCompleted, model.ReasonStop)
			})
		})
	}
}

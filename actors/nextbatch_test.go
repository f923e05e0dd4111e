package actors

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/synctest"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// NextBatch hands over each delivery as the request made it, a view of
// the log: a reader that takes the deliveries already waiting with
// TryNextBatch reads a long answer whole, in order, without copying it,
// where Next merges them into a new slice (the SSE loop copied every
// record of a fast stream once more that way). TryNextBatch never blocks.
func TestNextBatchReadsALongAnswerWithoutCopyingIt(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		t := h.t
		snap := h.submit(prompt("p"))
		s := h.script()
		sub := h.subscribe(snap.ID, 0)
		if recs, err := sub.NextBatch(h.ctx); err != nil || len(recs) == 0 {
			t.Fatalf("first batch %v, %v", recs, err)
		}
		for _, ok := sub.TryNextBatch(); ok; _, ok = sub.TryNextBatch() {
		}
		if recs, ok := sub.TryNextBatch(); ok {
			t.Fatalf("TryNextBatch with nothing waiting returned %v", recs)
		}
		const tokens = 2000
		for i := range tokens {
			s.Token(fmt.Sprint(i % 10))
		}
		s.Finish(llm.FinishStop, nil)
		synctest.Wait() // the log is whole

		read := func(sub *Subscription, batched bool) (n int, bytes uint64) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			next := sub.Cursor() + 1
			take := func(recs []model.Record) {
				for _, r := range recs {
					if r.Seq != next {
						t.Fatalf("seq %d where %d was due", r.Seq, next)
					}
					next++
					n++
				}
			}
			for {
				var recs []model.Record
				var err error
				if batched {
					recs, err = sub.NextBatch(h.ctx)
				} else {
					recs, err = sub.Next(h.ctx)
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("after %d records: %v", n, err)
				}
				take(recs)
				if !batched {
					continue
				}
				for more, ok := sub.TryNextBatch(); ok; more, ok = sub.TryNextBatch() {
					take(more)
				}
			}
			runtime.ReadMemStats(&after)
			return n, after.TotalAlloc - before.TotalAlloc
		}
		n, batchedBytes := read(sub, true)
		if n != tokens+1 { // the tokens and the end
			t.Fatalf("read %d records, want %d", n, tokens+1)
		}
		n, mergedBytes := read(h.subscribe(snap.ID, 0), false)
		if n != tokens+3 {
			t.Fatalf("Next read %d records, want %d", n, tokens+3)
		}
		if batchedBytes > mergedBytes/4 {
			t.Errorf("NextBatch allocated %d bytes to read %d records, Next %d: the records were copied", batchedBytes, tokens, mergedBytes)
		}
	})
}

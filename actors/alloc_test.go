package actors

import (
	"runtime"
	"testing"
	"time"
	"unsafe"

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

// A token's record is written once, where the log keeps it, and a paced
// token's step allocates nothing else: the log lends the free end of its
// last chunk to the step (model.Tokens.Into) and then only counts the
// records built there, and the token's records come back apart from the
// step's effects (model.StepTokens), so no Append is boxed and no slice of
// effects made. Before, the step built its records in a slice of its own
// (a paced token's largest allocation), boxed them in an Append and
// returned it in a slice: three allocations (BenchmarkPacedToken).
func TestATokensRecordIsBuiltInTheLog(t *testing.T) {
	cfg := DefaultConfig(scripted.New())
	r := newRequestActor(&cfg, "r1", "o", Spec{})
	r.life = model.Lifecycle{State: model.StateStreaming, Outputs: 1, Tokens: 1, LastSeq: 1}
	r.log.append([]model.Record{{Seq: 1, Kind: model.KindState, State: model.StateStreaming}})
	texts := []string{"a"}
	at := time.Unix(1, 0)
	allocs := testing.AllocsPerRun(200, func() {
		r.stepTokens(nil, model.Tokens{Texts: texts, At: at, Into: r.log.spare()})
	})
	// The log's chunks, made as it fills (a few in 201 steps), do not
	// count: AllocsPerRun rounds its average down.
	if allocs != 0 {
		t.Errorf("a paced token's step allocates %.0f times, want 0 (beside the log's chunks)", allocs)
	}
	if n := r.log.len(); n != 202 {
		t.Fatalf("%d records in the log, want 202", n)
	}
	for i := 1; i < 202; i++ {
		recs := r.log.view(i, i+1)
		if len(recs) != 1 || recs[0].Seq != uint64(i+1) || recs[0].Text != "a" {
			t.Fatalf("record %d is %+v", i, recs)
		}
	}
}

// Records built elsewhere, or more than the spare room holds, are copied
// as before; a view handed out before never sees the records built after
// it.
func TestTheLogCopiesWhatWasNotBuiltInItsSpareRoom(t *testing.T) {
	var l recordLog
	l.append([]model.Record{{Seq: 1}})
	before := l.view(0, 1)
	spare := l.spare()
	if len(spare) != 0 || cap(spare) == 0 {
		t.Fatalf("spare has length %d, room %d; want 0 and some", len(spare), cap(spare))
	}
	built := append(spare, model.Record{Seq: 2})
	elsewhere := []model.Record{{Seq: 3}, {Seq: 4}}
	l.append(built)
	l.append(elsewhere)
	more := l.spare()
	for i := range cap(more) + 1 { // one past the room: built in a new array
		more = append(more, model.Record{Seq: uint64(5 + i)})
	}
	l.append(more)
	if want := 4 + len(more); l.len() != want {
		t.Fatalf("%d records, want %d", l.len(), want)
	}
	for i := range l.len() {
		if r := l.view(i, i+1); len(r) != 1 || r[0].Seq != uint64(i+1) {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if len(before) != 1 || cap(before) != 1 || before[0].Seq != 1 {
		t.Errorf("an earlier view changed: %+v (cap %d)", before, cap(before))
	}
}

// A token event that has to wait for its turn (a step is under way) does
// not build its records in the room the log lent it: by its turn other
// records may have been appended there.
func TestAQueuedTokenDoesNotBuildInTheLogsRoom(t *testing.T) {
	cfg := DefaultConfig(scripted.New())
	r := newRequestActor(&cfg, "r1", "o", Spec{})
	r.life = model.Lifecycle{State: model.StateStreaming, Outputs: 1, Tokens: 1, LastSeq: 1}
	r.log.append([]model.Record{{Seq: 1, Kind: model.KindState, State: model.StateStreaming}})
	r.stepping = true // a step under way: the token waits in the queue
	r.stepTokens(nil, model.Tokens{Texts: []string{"late"}, At: time.Unix(1, 0), Into: r.log.spare()})
	// Meanwhile the step under way appends a record of its own.
	r.log.append([]model.Record{{Seq: 2, Kind: model.KindToken, Text: "first"}})
	r.life.LastSeq = 2
	r.stepping = false
	r.flush(nil)
	if r.log.len() != 3 {
		t.Fatalf("%d records, want 3", r.log.len())
	}
	if got := r.log.view(1, 2); len(got) != 1 || got[0].Text != "first" {
		t.Errorf("record 2 is %+v: the queued token overwrote it", got)
	}
	if got := r.log.view(2, 3); len(got) != 1 || got[0].Text != "late" || got[0].Seq != 3 {
		t.Errorf("record 3 is %+v, want the queued token", got)
	}
}

// Tokens that arrive after the end are ignored by the step; the log does
// not make room for them either (a full chunk would otherwise start the
// next, 8 KB, for nothing).
func TestLateTokensDoNotGrowTheLog(t *testing.T) {
	r := actorWithAFullFirstChunk(model.StateDone)
	r.reportedPickup = true
	r.inbox = &inbox{}
	r.inbox.pushText("late")
	r.drainInbox(nil)
	if n, chunks := r.log.len(), len(r.log.chunks); n != firstChunk || chunks != 1 {
		t.Errorf("after a late token: %d records in %d chunks, want %d in 1", n, chunks, firstChunk)
	}
}

// A batch of output larger than the room the log lends is stepped in
// pieces that each fit, so every record is still built in the log: an
// unpaced producer hands over hundreds of tokens at once, and a step that
// built them in a slice of its own made the log copy them (the records
// allocated twice, BenchmarkPerToken).
func TestABatchLargerThanTheLogsRoomIsBuiltInTheLog(t *testing.T) {
	r := actorWithAFullFirstChunk(model.StateStreaming) // the next chunk comes from spare
	texts := make([]string, 2*logChunk+10)
	for i := range texts {
		texts[i] = "b"
	}
	parts := []model.Part{{Kind: model.KindReasoning, Text: "r"}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r.stepOutput(nil, texts, parts, time.Unix(1, 0))
	runtime.ReadMemStats(&after)
	n := firstChunk + len(texts) + len(parts)
	if r.log.len() != n || r.life.LastSeq != uint64(n) {
		t.Fatalf("%d records in the log, last seq %d; want %d", r.log.len(), r.life.LastSeq, n)
	}
	for i := range n {
		k, off := chunkOf(i)
		if rec := r.log.chunks[k][off]; rec.Seq != uint64(i+1) || (i == n-1) != (rec.Kind == model.KindReasoning) {
			t.Fatalf("record %d is %v", i, rec)
		}
	}
	// Three chunks, and the chunk list's growth; not the records again.
	chunkBytes := uint64(logChunk * int(unsafe.Sizeof(model.Record{})))
	if got := after.TotalAlloc - before.TotalAlloc; got > 3*chunkBytes+1024 {
		t.Errorf("stepping %d pieces allocated %d bytes, want at most three chunks (%d)", len(texts)+len(parts), got, 3*chunkBytes)
	}
}

// actorWithAFullFirstChunk is a request actor in state whose log holds
// firstChunk tokens: its first chunk is full.
func actorWithAFullFirstChunk(state model.State) *requestActor {
	cfg := DefaultConfig(scripted.New())
	r := newRequestActor(&cfg, "r1", "o", Spec{})
	recs := make([]model.Record, firstChunk)
	for i := range recs {
		recs[i] = model.Record{Seq: uint64(i + 1), Kind: model.KindToken, Text: "a"}
	}
	r.log.append(recs)
	r.life = model.Lifecycle{State: state, Outputs: firstChunk, Tokens: firstChunk, LastSeq: firstChunk}
	return r
}

// An empty log lends no room; its output is then one step that builds
// its own records, not a loop of steps that take nothing.
func TestOutputIntoAnEmptyLogIsOneStep(t *testing.T) {
	cfg := DefaultConfig(scripted.New())
	r := newRequestActor(&cfg, "r1", "o", Spec{})
	r.life = model.Lifecycle{State: model.StateStreaming}
	r.stepOutput(nil, []string{"a", "b"}, nil, time.Unix(1, 0))
	if r.log.len() != 2 || r.life.LastSeq != 2 {
		t.Fatalf("%d records in the log, last seq %d; want 2 and 2", r.log.len(), r.life.LastSeq)
	}
}

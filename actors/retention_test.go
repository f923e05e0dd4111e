package actors

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
)

// finish runs one request to its end with the given answer text.
func (h *harness) finish(owner, answer string) Snapshot {
	h.t.Helper()
	snap, err := h.eng.Submit(h.ctx, owner, prompt("p"))
	if err != nil {
		h.t.Fatalf("Submit: %v", err)
	}
	s := h.script()
	if answer != "" {
		s.Token(answer)
	}
	s.Finish(llm.FinishStop, nil)
	synctest.Wait()
	return snap
}

// TestRetentionEvictsReadBeforeUnread: over MaxRetained, the oldest
// finished request whose end was read goes first; an unread one goes only
// when no read one is left, and then answers ErrExpired, not ErrNotFound.
func TestRetentionEvictsReadBeforeUnread(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxRetained = 2 }, func(h *harness) {
		unread := h.finish(owner, "a")
		read := h.finish(owner, "b")
		h.readAll(h.subscribe(read.ID, 0))
		synctest.Wait()
		h.finish(owner, "c") // three retained: the read one goes
		if _, err := h.eng.Status(h.ctx, read.ID, owner); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the read request: %v; want ErrNotFound (evicted first)", err)
		}
		h.status(unread.ID)
		h.finish(owner, "d") // the oldest unread goes now
		_, err := h.eng.Status(h.ctx, unread.ID, owner)
		wantErr(t, err, ErrExpired)
		if _, err := h.eng.Status(h.ctx, unread.ID, "tenant-b"); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrExpired) {
			t.Fatalf("another owner sees %v; want plain ErrNotFound", err)
		}
		st, _ := h.eng.Stats(h.ctx)
		if st.Retained != 2 || st.EvictedRead != 1 || st.EvictedUnread != 1 || st.Registered != 2 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// TestRetentionBytesBudget: the log bytes count, engine-wide and per
// tenant; a tenant over its own budget loses its own requests only.
func TestRetentionBytesBudget(t *testing.T) {
	big := strings.Repeat("x", 10_000)
	scenario(t, func(c *Config) { c.MaxRetainedBytes = 35_000; c.MaxRetainedBytesPerTenant = 25_000 }, func(h *harness) {
		a1 := h.finish(owner, big)
		b1 := h.finish("tenant-b", big)
		a2 := h.finish(owner, big)
		st, _ := h.eng.Stats(h.ctx)
		if st.Retained != 3 || st.RetainedBytes < 30_000 || st.RetainedBytes > 35_000 {
			t.Fatalf("three 10 KB answers: %+v", st)
		}
		a3 := h.finish(owner, big) // tenant-a over its 25 KB: its oldest goes
		if _, err := h.eng.Status(h.ctx, a1.ID, owner); !errors.Is(err, ErrExpired) {
			t.Fatalf("a1: %v; want expired", err)
		}
		if _, err := h.eng.Status(h.ctx, b1.ID, "tenant-b"); err != nil {
			t.Fatalf("b1 must stay (its tenant is within budget): %v", err)
		}
		h.status(a2.ID)
		h.status(a3.ID)
		st, _ = h.eng.Stats(h.ctx)
		if st.RetainedBytes > 35_000 {
			t.Fatalf("retained %d bytes over the 35 KB budget", st.RetainedBytes)
		}
	})
}

// TestRetentionNeverRefusesSubmits: a full retention budget evicts; it
// never refuses new work, and running requests are not counted.
func TestRetentionNeverRefusesSubmits(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxRetained = 1 }, func(h *harness) {
		running := h.submit(prompt("long"))
		s := h.script()
		for range 5 {
			h.finish(owner, "x")
		}
		if snap := h.status(running.ID); snap.State != model.StateStreaming {
			t.Fatalf("the running request: %+v", snap)
		}
		st, _ := h.eng.Stats(h.ctx)
		if st.Retained != 1 || st.Registered != 2 {
			t.Fatalf("stats = %+v", st)
		}
		s.Finish(llm.FinishStop, nil)
	})
}

// TestFloodOfLargePromptsStaysWithinTheBudget: 3,000 submits with 60 KB
// prompts, answered at once. Before retention they were all kept (prompt
// and log) until PickupTimeout; now the finished ones drop their prompt and
// at most MaxRetained stay, and the heap after a GC is bounded.
func TestFloodOfLargePromptsStaysWithinTheBudget(t *testing.T) {
	prov := scripted.Play(scripted.Step{Text: "ok", Finish: llm.FinishStop})
	cfg := DefaultConfig(prov)
	cfg.MaxActive, cfg.MaxQueued = 4, 4
	cfg.MaxRetained = 100
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	huge := strings.Repeat("y", 60<<10)
	accepted := 0
	for i := range 3000 {
		spec := prompt(huge + fmt.Sprint(i))
		if _, err := eng.Submit(ctx, owner, spec); err == nil {
			accepted++
		} else if !errors.Is(err, ErrQueueFull) {
			t.Fatalf("submit %d: %v", i, err)
		}
	}
	// Let the last ones finish: every admitted request ends at once.
	var st Stats
	for range 1000 {
		if st, _ = eng.Stats(ctx); st.Active+st.Queued == 0 {
			break
		}
		runtime.Gosched()
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d accepted; stats %+v; heap grew %d KB", accepted, st, grown>>10)
	if st.Registered > cfg.MaxRetained+cfg.MaxActive+cfg.MaxQueued {
		t.Fatalf("%d requests registered; at most %d may be", st.Registered, cfg.MaxRetained+cfg.MaxActive+cfg.MaxQueued)
	}
	// 108 requests at most, none holding its 60 KB prompt once finished:
	// far below the 180 MB that 3,000 kept prompts would hold (about 14 MB
	// is seen here, mostly the actor system's own tables).
	if grown > 48<<20 {
		t.Fatalf("heap grew by %d MB", grown>>20)
	}
}

// TestIdempotentSubmits: the same key and spec answer the same request
// (Replayed), another spec with the key is a conflict, another owner's key
// is another key; 50 concurrent submits with one key create one request.
func TestIdempotentSubmits(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		spec := prompt("p")
		spec.IdempotencyKey = "k1"
		first := h.submit(spec)
		if first.Replayed {
			t.Fatal("a first submit is not a replay")
		}
		again := h.submit(spec)
		if again.ID != first.ID || !again.Replayed {
			t.Fatalf("retry = %+v; want %s replayed", again, first.ID)
		}
		other := prompt("q")
		other.IdempotencyKey = "k1"
		_, err := h.eng.Submit(h.ctx, owner, other)
		wantErr(t, err, ErrIdempotencyConflict)
		theirs, err := h.eng.Submit(h.ctx, "tenant-b", spec)
		if err != nil || theirs.ID == first.ID {
			t.Fatalf("tenant-b with the same key: %+v, %v; want a request of its own", theirs, err)
		}
		h.script()
		h.script()

		storm := prompt("storm")
		storm.IdempotencyKey = "k2"
		ids := make(chan string, 50)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				snap, err := h.eng.Submit(h.ctx, owner, storm)
				if err != nil {
					t.Errorf("Submit: %v", err)
				}
				ids <- snap.ID
			})
		}
		wg.Wait()
		close(ids)
		seen := map[string]int{}
		for id := range ids {
			seen[id]++
		}
		if len(seen) != 1 {
			t.Fatalf("50 submits with one key created %d requests: %v", len(seen), seen)
		}
		h.script()
		if n := h.prov.Opened(); n != 3 {
			t.Fatalf("%d upstream calls; want 3", n)
		}
	})
}

// TestPerTenantAdmission: one tenant cannot take every slot or queue
// place; the others are admitted past its waiting requests.
func TestPerTenantAdmission(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxActive, c.MaxQueued, c.MaxActivePerTenant, c.MaxQueuedPerTenant = 3, 10, 2, 2 }, func(h *harness) {
		a1, a2 := h.submit(prompt("a1")), h.submit(prompt("a2"))
		a3 := h.submit(prompt("a3")) // over tenant-a's 2 slots: queued
		if a1.State != model.StateStreaming && a1.State != model.StatePending || a3.QueuePosition != 1 {
			t.Fatalf("a3 = %+v; want queued at 1", a3)
		}
		h.submit(prompt("a4"))
		_, err := h.eng.Submit(h.ctx, owner, prompt("a5"))
		wantErr(t, err, ErrQueueFull)
		b1, err := h.eng.Submit(h.ctx, "tenant-b", prompt("b1"))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := h.eng.mustStatus(t, b1.ID, "tenant-b").State; got != model.StateStreaming {
			t.Fatalf("b1 = %s; want streaming past tenant-a's queue", got)
		}
		_ = a2
	})
}

// TestFairQueue: with QueueFair, tenants with waiting requests are served
// in turn, FIFO within each.
func TestFairQueue(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxActive, c.QueuePolicy = 1, QueueFair }, func(h *harness) {
		h.submit(prompt("holder"))
		first := h.script()
		var order []string
		spec := func(p string) Spec { return prompt(p) }
		for _, s := range []struct{ owner, p string }{{"a", "a1"}, {"a", "a2"}, {"a", "a3"}, {"b", "b1"}, {"c", "c1"}, {"b", "b2"}} {
			if _, err := h.eng.Submit(h.ctx, s.owner, spec(s.p)); err != nil {
				t.Fatal(err)
			}
		}
		first.Finish(llm.FinishStop, nil)
		for range 6 {
			s := h.script()
			order = append(order, s.Request().Messages[0].Content)
			s.Finish(llm.FinishStop, nil)
		}
		if got, want := strings.Join(order, " "), "a1 b1 c1 a2 b2 a3"; got != want {
			t.Fatalf("admitted %s; want %s", got, want)
		}
	})
}

func (e *Engine) mustStatus(t *testing.T, id, owner string) Snapshot {
	t.Helper()
	snap, err := e.Status(context.Background(), id, owner)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return snap
}

// TestRetainOutlastsLinger: Spec.Retain keeps a finished request whose end
// was read past Linger (and past PickupTimeout), until Retain; without it
// the request goes after Linger. KeepInput keeps its input messages.
func TestRetainOutlastsLinger(t *testing.T) {
	scenario(t, func(c *Config) { c.Linger, c.PickupTimeout = time.Second, time.Minute }, func(h *harness) {
		kept := prompt("kept")
		kept.Retain = time.Hour
		kept.KeepInput = true
		a := h.submit(kept)
		b := h.submit(prompt("plain"))
		for range 2 {
			s := h.script()
			s.Finish(llm.FinishStop, nil)
		}
		h.readAll(h.subscribe(a.ID, 0))
		h.readAll(h.subscribe(b.ID, 0))
		if ls, err := h.eng.Log(h.ctx, a.ID, owner); err != nil || len(ls.Input) != 1 || ls.Input[0].Content != "kept" {
			t.Fatalf("a retained request's input: %+v, %v; want it kept", ls.Input, err)
		}
		if ls, err := h.eng.Log(h.ctx, b.ID, owner); err != nil || ls.Input != nil {
			t.Fatalf("a plain finished request's input: %+v, %v; want it dropped", ls.Input, err)
		}
		time.Sleep(2 * time.Minute) // virtual: past Linger and PickupTimeout
		h.status(a.ID)
		if _, err := h.eng.Status(h.ctx, b.ID, owner); !errors.Is(err, ErrNotFound) {
			t.Fatalf("without Retain: %v; want gone after Linger", err)
		}
		time.Sleep(time.Hour)
		if _, err := h.eng.Status(h.ctx, a.ID, owner); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after Retain: %v; want gone", err)
		}
	})
}

// finishRetained runs a request kept with Retain to its end with answer,
// and returns its snapshot and the retained bytes after it.
func (h *harness) finishRetained(owner string, spec Spec, answer string) (Snapshot, int64) {
	h.t.Helper()
	spec.Retain, spec.KeepInput = time.Hour, true
	snap, err := h.eng.Submit(h.ctx, owner, spec)
	if err != nil {
		h.t.Fatalf("Submit: %v", err)
	}
	s := h.script()
	s.Token(answer)
	s.Finish(llm.FinishStop, nil)
	synctest.Wait()
	st, err := h.eng.Stats(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return snap, st.RetainedBytes
}

// TestSharedInputCountsOnce: a request whose input repeats a retained
// request's input (a conversation continued from a stored response,
// Spec.SharesInput) counts those texts once while the earlier request
// holds them; when the earlier request goes, the later one, which still
// holds them, counts them. Another owner's request, or one that does not
// keep its input, shares nothing.
func TestSharedInputCountsOnce(t *testing.T) {
	big1, big2 := strings.Repeat("a", 20_000), strings.Repeat("b", 10_000)
	scenario(t, nil, func(h *harness) {
		first, s1 := h.finishRetained(owner, prompt(big1), "one")
		cont := Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: big1}, {Role: llm.RoleAssistant, Content: "one"},
			{Role: llm.RoleUser, Content: big2}}, SharesInput: SharedInput{ID: first.ID, From: 0, Count: 1}}
		second, s2 := h.finishRetained(owner, cont, "two")
		if added := s2 - s1; added < 10_000 || added >= 20_000 {
			t.Fatalf("the continuation added %d bytes; want its own 10 KB and a little, not the shared 20 KB again", added)
		}
		if _, err := h.eng.Delete(h.ctx, first.ID, owner); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		st, _ := h.eng.Stats(h.ctx)
		alone := st.RetainedBytes // the continuation, counting big1 now
		if alone < 30_000 {
			t.Fatalf("after the first request went, %d bytes are counted; the continuation still holds 30 KB", alone)
		}
		// An unshared request with the same input and answer counts as much.
		plain := cont
		plain.SharesInput = SharedInput{}
		_, s4 := h.finishRetained(owner, plain, "two")
		if s4-alone != alone {
			t.Fatalf("an unshared copy counts %d bytes; the continuation, alone, %d", s4-alone, alone)
		}
		// Sharing with another tenant's request, or with a gone one, counts in full.
		third, s5 := h.finishRetained(owner, prompt(big1), "one")
		foreign := cont
		foreign.SharesInput.ID = third.ID
		if _, s6 := h.finishRetained("tenant-b", foreign, "two"); s6-s5 != alone {
			t.Fatalf("sharing another tenant's input counted %d bytes; want %d", s6-s5, alone)
		}
		_ = second
	})
}

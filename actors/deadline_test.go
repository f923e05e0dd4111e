package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/rs/zerolog"
)

// TestCallsThatGiveUpLeaveNothingBehind: submits, subscribes and
// submits with a reader (SubmitAndSubscribe) with deadlines of 1–50 µs,
// on real time so that deadlines really race the answers. Afterwards the engine holds exactly the requests whose submit
// succeeded and exactly the subscribers whose subscribe succeeded: a
// command that arrives late is dropped, one that was carried out while its
// caller gave up is withdrawn.
func TestCallsThatGiveUpLeaveNothingBehind(t *testing.T) {
	prov := scripted.Play(scripted.Step{Stall: true})
	cfg := DefaultConfig(prov)
	cfg.Logger = zerolog.Nop()
	cfg.MaxActive, cfg.MaxQueued = 1000, 1000
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()

	// One request to subscribe to, subscribed to by nobody yet.
	target, err := eng.Submit(ctx, owner, prompt("target"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var submitted, subscribed, both int
	var subs []*Subscription
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(3)
		deadline := time.Duration(1+i%50) * time.Microsecond * time.Duration(1+(i%4)*(i%4)*100) // 1 µs to 45 ms
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			if _, err := eng.Submit(c, owner, prompt(fmt.Sprint(i))); err == nil {
				mu.Lock()
				submitted++
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			if sub, err := eng.Subscribe(c, target.ID, owner, 0); err == nil {
				mu.Lock()
				subscribed++
				subs = append(subs, sub)
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			if _, sub, err := eng.SubmitAndSubscribe(c, owner, prompt(fmt.Sprint("both", i))); err == nil {
				mu.Lock()
				both++
				subs = append(subs, sub)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Withdrawals were sent before the calls returned, so they are in the
	// mailboxes ahead of these asks.
	st, err := eng.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Registered != submitted+both+1 {
		t.Errorf("registered %d requests; %d submits and %d submits with a reader succeeded (+1 target)", st.Registered, submitted, both)
	}
	snap, err := eng.Status(ctx, target.ID, owner)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Subscribers != subscribed {
		t.Errorf("%d subscribers attached; %d subscribes succeeded", snap.Subscribers, subscribed)
	}
	t.Logf("%d of 200 submits, %d of 200 subscribes and %d of 200 submits with a reader succeeded", submitted, subscribed, both)
	for _, s := range subs {
		s.Close()
	}
}

// TestEveryCallReturnsWhenItsContextEnds: Drain with a long grace returns
// as soon as its context is cancelled (the drain goes on).
func TestEveryCallReturnsWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, scripted.New(), nil)
		defer h.close()
		h.submit(prompt("p"))
		h.script()
		ctx, cancel := context.WithCancel(h.ctx)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- h.eng.Drain(ctx, time.Minute) }()
		time.Sleep(10 * time.Millisecond)
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) || time.Since(start) > 20*time.Millisecond {
			t.Fatalf("Drain = %v after %v; want context.Canceled at once", err, time.Since(start))
		}
	})
}

// TestLateCommandsAreDropped: a command whose deadline passed before it
// arrived changes nothing and gets no answer.
func TestLateCommandsAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, scripted.New(), nil)
		defer h.close()
		past := time.Now().Add(-time.Nanosecond)
		root := h.eng.System().Root
		f := root.RequestFuture(h.eng.Supervisor(), &Submit{Owner: owner, Spec: prompt("p"), Deadline: past, Ref: 7}, time.Second)
		if _, err := f.Result(); err == nil {
			t.Fatal("a late submit was answered")
		}
		if st, _ := h.eng.Stats(h.ctx); st.Registered != 0 {
			t.Fatalf("a late submit registered a request: %+v", st)
		}
		snap := h.submit(prompt("q"))
		f = root.RequestFuture(h.eng.Supervisor(), &Subscribe{ID: snap.ID, Owner: owner, Sink: f.PID(), Deadline: past}, time.Second)
		if _, err := f.Result(); err == nil {
			t.Fatal("a late subscribe was answered")
		}
		if got := h.status(snap.ID).Subscribers; got != 0 {
			t.Fatalf("a late subscribe attached: %d subscribers", got)
		}
	})
}

// TestRepliesEchoTheirRef: every answer names the command it answers.
func TestRepliesEchoTheirRef(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, scripted.New(), nil)
		defer h.close()
		root := h.eng.System().Root
		ask := func(m any) any {
			res, err := root.RequestFuture(h.eng.Supervisor(), m, time.Second).Result()
			if err != nil {
				t.Fatalf("%T: %v", m, err)
			}
			return res
		}
		snap := ask(&Submit{Owner: owner, Spec: prompt("p"), Ref: 1}).(*Snapshot)
		if snap.Ref != 1 {
			t.Fatalf("submit answer Ref = %d", snap.Ref)
		}
		if s := ask(&GetStatus{ID: snap.ID, Owner: owner, Ref: 2}).(*Snapshot); s.Ref != 2 {
			t.Fatalf("status answer Ref = %d", s.Ref)
		}
		if e := ask(&GetStatus{ID: "nope", Owner: owner, Ref: 3}).(*Error); e.Ref != 3 || e.Command != "status" {
			t.Fatalf("status error = %+v", e)
		}
		if e := ask(&Delete{ID: snap.ID, Owner: owner, Ref: 4}).(*Error); e.Ref != 4 || e.Command != "delete" {
			t.Fatalf("delete error = %+v", e)
		}
		if s := ask(&Cancel{ID: snap.ID, Owner: owner, Ref: 5}).(*Snapshot); s.Ref != 5 {
			t.Fatalf("cancel answer Ref = %d", s.Ref)
		}
		if e := ask(&Submit{Owner: owner, Ref: 6}).(*Error); e.Ref != 6 || e.Command != "submit" {
			t.Fatalf("submit error = %+v", e)
		}
	})
}

package actors

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
)

// Seed catalogue 7: an id is refused only while a request holds it; once
// the request is forgotten, the id is free again.
func TestDuplicateIDRefusedUntilForgotten(t *testing.T) {
	scenario(t, func(c *Config) { c.NewID = func() string { return "fixed" } }, func(h *harness) {
		snap := h.submit(prompt("p"))
		_, err := h.eng.Submit(h.ctx, owner, prompt("again"))
		wantErr(t, err, ErrInvalidRequest)
		h.eng.Cancel(h.ctx, snap.ID, owner)
		h.readAll(h.subscribe(snap.ID, 0))
		time.Sleep(31 * time.Second) // Linger
		again := h.submit(prompt("again"))
		if again.ID != "fixed" || again.State != model.StatePending {
			t.Fatalf("resubmit = %+v", again)
		}
	})
}

// Seed catalogue 8: a disconnect does not purge the request; after a
// resume, cancel still finds it.
func TestCancelAfterResume(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("a")
		recs, _ := sub.Next(h.ctx)
		sub.Close()
		resumed := h.subscribe(snap.ID, recs[len(recs)-1].Seq)
		got, err := h.eng.Cancel(h.ctx, snap.ID, owner)
		if err != nil || got.State != model.StateCancelled {
			t.Fatalf("cancel after resume = %+v, %v", got, err)
		}
		wantEnd(t, h.readAll(resumed), model.StateCancelled, model.StatusCancelled, model.ReasonClientCancel)
	})
}

// Seed catalogue 24: with on_disconnect=cancel, one listener leaving does
// not cancel the stream the others still read.
func TestOneListenerLeavingDoesNotStopOthers(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		spec := prompt("p")
		spec.OnDisconnect = model.OnDisconnectCancel
		snap := h.submit(spec)
		a, b := h.subscribe(snap.ID, 0), h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("x")
		a.Next(h.ctx)
		a.Close()
		time.Sleep(10 * time.Second) // twice DetachGrace
		if !s.Token("y") || !s.Finish(llm.FinishStop, nil) {
			t.Fatal("the stream stopped although a listener was still attached")
		}
		recs := h.readAll(b)
		if text(recs) != "xy" {
			t.Fatalf("text = %q", text(recs))
		}
		wantEnd(t, recs, model.StateDone, model.StatusCompleted, model.ReasonStop)
	})
}

// Seed catalogue 22: Drain and Close may be called any number of times.
func TestCloseAndDrainAreIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, scripted.New(), nil)
		for range 3 {
			if err := h.eng.Drain(h.ctx, time.Second); err != nil {
				t.Fatalf("Drain: %v", err)
			}
		}
		h.close()
		h.close()
		if err := h.eng.Drain(h.ctx, time.Second); err != ErrClosed {
			t.Fatalf("Drain after Close = %v, want ErrClosed", err)
		}
	})
}

// Seed catalogue 10: an answer produced before anybody attaches is kept in
// full and delivered to the first subscriber.
func TestAnswerBeforeAttachIsKept(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		s := h.script()
		s.Token("fast")
		s.Finish(llm.FinishStop, nil)
		time.Sleep(time.Minute)
		recs := h.readAll(h.subscribe(snap.ID, 0))
		if text(recs) != "fast" || recs[0].Seq != 1 {
			t.Fatalf("log = %v", recs)
		}
		wantEnd(t, recs, model.StateDone, model.StatusCompleted, model.ReasonStop)
	})
}

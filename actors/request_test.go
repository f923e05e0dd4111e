package actors

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
)

func TestCompletesAndStreamsEveryRecord(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("hello"))
		if snap.State != model.StatePending || snap.LastSeq != 1 {
			t.Fatalf("submit snapshot = %+v, want pending at seq 1", snap)
		}
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		if got := s.Request().Messages[0].Content; got != "hello" {
			t.Fatalf("provider got prompt %q", got)
		}
		s.Token("Hello")
		s.Token(", world")
		s.Finish(llm.FinishStop, &llm.Usage{PromptTokens: 1, CompletionTokens: 2})
		recs := h.readAll(sub)
		if recs[0].Kind != model.KindState || recs[0].State != model.StatePending ||
			recs[1].Kind != model.KindState || recs[1].State != model.StateStreaming {
			t.Fatalf("log must open with pending, streaming: %v", recs)
		}
		if got := text(recs); got != "Hello, world" {
			t.Fatalf("text = %q", got)
		}
		end := wantEnd(t, recs, model.StateDone, model.StatusCompleted, model.ReasonStop)
		if end.Tokens != 2 || end.Usage == nil || end.Usage.CompletionTokens != 2 {
			t.Fatalf("end = %+v", end)
		}
	})
}

func TestCancelWhilePending(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxActive = 1 }, func(h *harness) {
		first := h.submit(prompt("first"))
		h.script() // the first holds the only slot
		second := h.submit(prompt("second"))
		if second.State != model.StatePending || second.QueuePosition != 1 {
			t.Fatalf("second = %+v, want pending at queue position 1", second)
		}
		snap, err := h.eng.Cancel(h.ctx, second.ID, owner)
		if err != nil || snap.State != model.StateCancelled {
			t.Fatalf("Cancel = %+v, %v", snap, err)
		}
		recs := h.readAll(h.subscribe(second.ID, 0))
		wantEnd(t, recs, model.StateCancelled, model.StatusCancelled, model.ReasonClientCancel)
		if len(recs) != 2 {
			t.Fatalf("a cancelled pending request logs pending then end, got %v", recs)
		}
		if st, _ := h.eng.Stats(h.ctx); st.Queued != 0 || st.Active != 1 {
			t.Fatalf("stats after cancelling the queued request = %+v", st)
		}
		if h.prov.Opened() != 1 {
			t.Fatalf("the cancelled request must never reach the provider")
		}
		_ = first
	})
}

// Seed problems 3 and 5: the cancel is recorded before the producer is
// stopped, so the end says cancelled (not an error) and is delivered.
func TestCancelBetweenTwoTokens(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("one")
		synctest.Wait()
		if _, err := h.eng.Cancel(h.ctx, snap.ID, owner); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		if s.Token("two") {
			t.Fatalf("the provider accepted a token after the cancel")
		}
		<-s.Done()
		if !s.Cancelled() {
			t.Fatalf("the upstream stream was not cancelled")
		}
		recs := h.readAll(sub)
		if text(recs) != "one" {
			t.Fatalf("text = %q, want only the token before the cancel", text(recs))
		}
		wantEnd(t, recs, model.StateCancelled, model.StatusCancelled, model.ReasonClientCancel)
	})
}

// Seed problem 2: cancel, then stream, must give the cancelled log, not
// "not found".
func TestCancelThenSubscribeGetsFullLog(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		s := h.script()
		s.Token("a")
		synctest.Wait()
		h.eng.Cancel(h.ctx, snap.ID, owner)
		time.Sleep(time.Second) // well within Linger and PickupTimeout
		recs := h.readAll(h.subscribe(snap.ID, 0))
		if len(recs) != 4 || text(recs) != "a" {
			t.Fatalf("log = %v", recs)
		}
		wantEnd(t, recs, model.StateCancelled, model.StatusCancelled, model.ReasonClientCancel)
	})
}

func TestCancelAfterCompletionReportsAlreadyFinished(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		s := h.script()
		s.Token("a")
		s.Finish(llm.FinishStop, nil)
		synctest.Wait()
		got, err := h.eng.Cancel(h.ctx, snap.ID, owner)
		wantErr(t, err, ErrAlreadyFinished)
		if got.State != model.StateDone || got.Status != model.StatusCompleted {
			t.Fatalf("snapshot with ErrAlreadyFinished = %+v", got)
		}
	})
}

func TestDuplicateCancelIsIdempotent(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		h.script()
		a, errA := h.eng.Cancel(h.ctx, snap.ID, owner)
		b, errB := h.eng.Cancel(h.ctx, snap.ID, owner)
		if errA != nil || errB != nil || a.State != model.StateCancelled || b.State != model.StateCancelled || a.LastSeq != b.LastSeq {
			t.Fatalf("cancel twice = (%+v, %v), (%+v, %v)", a, errA, b, errB)
		}
		recs := h.readAll(h.subscribe(snap.ID, 0))
		wantEnd(t, recs, model.StateCancelled, model.StatusCancelled, model.ReasonClientCancel)
	})
}

// Completion and cancel at the same virtual instant: whichever the actor
// takes first wins, there is exactly one end, and the cancel's answer
// agrees with it. Many bubbles, so both orders happen.
func TestCompletionAndCancelTogether(t *testing.T) {
	outcomes := map[model.State]int{}
	for range 60 {
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, scripted.New(), nil)
			defer h.close()
			snap := h.submit(prompt("p"))
			sub := h.subscribe(snap.ID, 0)
			s := h.script()
			s.Token("a")
			var cancelErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, cancelErr = h.eng.Cancel(h.ctx, snap.ID, owner)
			}()
			s.Finish(llm.FinishStop, nil)
			<-done
			recs := h.readAll(sub)
			end := endOf(t, recs)
			switch end.State {
			case model.StateDone:
				wantErr(t, cancelErr, ErrAlreadyFinished)
			case model.StateCancelled:
				if cancelErr != nil {
					t.Fatalf("cancel won but answered %v", cancelErr)
				}
			default:
				t.Fatalf("end state %s", end.State)
			}
			outcomes[end.State]++
		})
	}
	t.Logf("outcomes over 60 bubbles: %v", outcomes)
}

func TestDisconnectWithContinueKeepsRunning(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p")) // on_disconnect defaults to continue
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("a")
		synctest.Wait()
		sub.Close()
		time.Sleep(20 * time.Second) // longer than DetachGrace, shorter than IdleTimeout
		if !s.Token("b") || !s.Finish(llm.FinishStop, nil) {
			t.Fatalf("the request was stopped by a disconnect under on_disconnect=continue")
		}
		recs := h.readAll(h.subscribe(snap.ID, 0))
		if text(recs) != "ab" {
			t.Fatalf("text = %q", text(recs))
		}
		wantEnd(t, recs, model.StateDone, model.StatusCompleted, model.ReasonStop)
	})
}

func TestDisconnectWithCancelAfterGrace(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		spec := prompt("p")
		spec.OnDisconnect = model.OnDisconnectCancel
		snap := h.submit(spec)
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("a")
		synctest.Wait()
		start := time.Now()
		sub.Close()
		<-s.Done()
		if waited := time.Since(start); waited != 5*time.Second {
			t.Fatalf("cancelled after %s, want DetachGrace (5s)", waited)
		}
		recs := h.readAll(h.subscribe(snap.ID, 0))
		wantEnd(t, recs, model.StateCancelled, model.StatusCancelled, model.ReasonClientDisconnected)
	})
}

func TestDisconnectWithCancelSurvivesReattachWithinGrace(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		spec := prompt("p")
		spec.OnDisconnect = model.OnDisconnectCancel
		snap := h.submit(spec)
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("a")
		recs, _ := sub.Next(h.ctx)
		cursor := recs[len(recs)-1].Seq
		sub.Close()
		time.Sleep(4 * time.Second)
		again := h.subscribe(snap.ID, cursor)
		time.Sleep(20 * time.Second) // long past the grace, within IdleTimeout
		if !s.Token("b") || !s.Finish(llm.FinishStop, nil) {
			t.Fatalf("the request was cancelled although a subscriber came back within the grace")
		}
		rest := h.readAll(again)
		if text(rest) != "b" && text(rest) != "ab" {
			t.Fatalf("text after resume = %q", text(rest))
		}
		wantEnd(t, rest, model.StateDone, model.StatusCompleted, model.ReasonStop)
	})
}

func TestResumeFromCursorHasNoGapOrDuplicate(t *testing.T) {
	scenario(t, func(c *Config) { c.BatchSize = 3 }, func(h *harness) {
		snap := h.submit(prompt("p"))
		s := h.script()
		words := []string{"a", "b", "c", "d", "e", "f", "g"}
		for _, w := range words[:4] {
			s.Token(w)
		}
		synctest.Wait()
		first := h.subscribe(snap.ID, 0)
		got, err := first.Next(h.ctx) // BatchSize 3: pending, streaming, a
		if err != nil || len(got) != 3 {
			t.Fatalf("first batch = %v, %v", got, err)
		}
		first.Close()
		for _, w := range words[4:] {
			s.Token(w)
		}
		s.Finish(llm.FinishStop, nil)
		rest := h.readAll(h.subscribe(snap.ID, got[2].Seq))
		all := append(got, rest...)
		for i, r := range all {
			if r.Seq != uint64(i+1) {
				t.Fatalf("record %d has seq %d: %v", i, r.Seq, all)
			}
		}
		if text(all) != "abcdefg" {
			t.Fatalf("text = %q", text(all))
		}
		// Resuming at the end record finds nothing left.
		if done := h.subscribe(snap.ID, all[len(all)-1].Seq); !done.Exhausted() {
			t.Fatalf("a cursor at the end must give an exhausted subscription")
		}
	})
}

func TestTwoSubscribersSeeIdenticalLogs(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		a := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("x")
		synctest.Wait()
		b := h.subscribe(snap.ID, 0)
		for _, w := range []string{"y", "z"} {
			s.Token(w)
		}
		s.Finish(llm.FinishStop, nil)
		ra, rb := h.readAll(a), h.readAll(b)
		if len(ra) != len(rb) {
			t.Fatalf("logs differ: %v vs %v", ra, rb)
		}
		for i := range ra {
			if ra[i].String() != rb[i].String() {
				t.Fatalf("record %d differs: %v vs %v", i, ra[i], rb[i])
			}
		}
	})
}

// Seed problem 23: a subscriber that does not read neither blocks the
// request or the other subscribers nor loses a record.
func TestSlowSubscriberBlocksNobodyAndLosesNothing(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		slow := h.subscribe(snap.ID, 0)
		if _, err := slow.Next(h.ctx); err != nil { // one pull answered, then it stops reading
			t.Fatal(err)
		}
		fast := h.subscribe(snap.ID, 0)
		s := h.script()
		const n = 2000
		for i := range n {
			if !s.Token("w") {
				t.Fatalf("token %d refused: the request is blocked", i)
			}
		}
		s.Finish(llm.FinishStop, nil)
		recsFast := h.readAll(fast)
		if len(text(recsFast)) != n {
			t.Fatalf("fast subscriber got %d tokens", len(text(recsFast)))
		}
		time.Sleep(5 * time.Minute) // the slow one wakes up much later
		recsSlow := h.readAll(slow)
		if len(text(recsSlow)) != n {
			t.Fatalf("slow subscriber got %d tokens", len(text(recsSlow)))
		}
		wantEnd(t, recsSlow, model.StateDone, model.StatusCompleted, model.ReasonStop)
	})
}

func TestProviderErrorMidStreamKeepsText(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		s := h.script()
		s.Token("partial")
		s.Fail(errors.New("connection reset"))
		recs := h.readAll(h.subscribe(snap.ID, 0))
		if text(recs) != "partial" {
			t.Fatalf("text = %q", text(recs))
		}
		end := wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonUpstreamError)
		if end.Message == "" {
			t.Fatalf("a failed end must say why")
		}
	})
}

func TestStreamCutWithoutFinishIsUpstreamError(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		s := h.script()
		s.Token("half")
		s.Cut()
		recs := h.readAll(h.subscribe(snap.ID, 0))
		wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonUpstreamError)
	})
}

func TestProviderOpenErrorFails(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		h.prov.FailNextOpen(errors.New("connection refused"))
		snap := h.submit(prompt("p"))
		recs := h.readAll(h.subscribe(snap.ID, 0))
		wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonUpstreamError)
	})
}

func TestProviderPanicBecomesInternalError(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("a")
		s.Panic("boom")
		recs := h.readAll(sub)
		end := wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonInternalError)
		if text(recs) != "a" || end.Message == "" {
			t.Fatalf("log = %v", recs)
		}
		// The engine lives on.
		h.submit(prompt("next"))
		h.script()
	})
}

// A panic in the middle of a step (with events still queued) must not
// leave the step loop locked: the failure is still recorded and delivered.
func TestPanicMidStepStillDeliversFailedEnd(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		h.script().Token("a")
		synctest.Wait()
		h.eng.system.Root.Send(sub.req, &panicNow{value: "bug in an effect", midStep: true})
		recs := h.readAll(sub)
		wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonInternalError)
	})
}

// Rule 9: a panic inside the request actor stops it (no restart, so no
// second LLM call), frees its slot, and subscribers still get an end.
func TestActorPanicStopsAndDeliversFailedEnd(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxActive = 1 }, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Token("a")
		synctest.Wait()
		queued := h.submit(prompt("queued"))
		h.eng.system.Root.Send(sub.req, &panicNow{value: "bug"})
		recs := h.readAll(sub)
		if text(recs) != "a" {
			t.Fatalf("text = %q", text(recs))
		}
		wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonInternalError)
		<-s.Done()
		next := h.script() // the queued request got the freed slot
		if next.Request().Messages[0].Content != "queued" {
			t.Fatalf("slot went to %q", next.Request().Messages[0].Content)
		}
		if h.prov.Opened() != 2 {
			t.Fatalf("provider opened %d streams; a restart would replay the call", h.prov.Opened())
		}
		_, err := h.eng.Status(h.ctx, snap.ID, owner)
		wantErr(t, err, ErrNotFound)
		_ = queued
	})
}

func TestDeleteForgetsOnlyFinishedRequests(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("hello"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		if _, err := h.eng.Delete(h.ctx, snap.ID, owner); !errors.Is(err, ErrNotFinished) {
			t.Fatalf("delete while streaming: %v, want ErrNotFinished", err)
		}
		if _, err := h.eng.Delete(h.ctx, snap.ID, "someone-else"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete by another owner: %v, want ErrNotFound", err)
		}
		s.Token("kept")
		s.Finish(llm.FinishStop, nil)
		synctest.Wait()
		gone, err := h.eng.Delete(h.ctx, snap.ID, owner)
		if err != nil || gone.Status != model.StatusCompleted || gone.Tokens != 1 {
			t.Fatalf("delete after the end: %+v, %v", gone, err)
		}
		if _, err := h.eng.Status(h.ctx, snap.ID, owner); !errors.Is(err, ErrNotFound) {
			t.Fatalf("status after delete: %v, want ErrNotFound", err)
		}
		if _, err := h.eng.Delete(h.ctx, snap.ID, owner); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v, want ErrNotFound", err)
		}
		// The subscriber that had not read yet still gets everything.
		recs := h.readAll(sub)
		if text(recs) != "kept" {
			t.Fatalf("records after delete: %v", recs)
		}
		wantEnd(t, recs, model.StateDone, model.StatusCompleted, model.ReasonStop)
		if st, _ := h.eng.Stats(h.ctx); st.Registered != 0 {
			t.Fatalf("stats after delete: %+v", st)
		}
	})
}

// A Subscription grants the request pullWindow batches ahead of its
// reading: a subscriber that stops reading holds at most that many, the
// request goes on answering, and once the reader is back it gets what
// waits in one Next and every record exactly once.
func TestSubscriptionWindow(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		first, err := sub.Next(h.ctx) // grants the window
		if err != nil {
			t.Fatal(err)
		}
		for range 3 * pullWindow {
			s.Token("x")
			time.Sleep(20 * time.Millisecond) // each token its own batch
		}
		synctest.Wait()
		if n := len(sub.ch); n != pullWindow-1 {
			// The first Next took one batch of the window.
			t.Errorf("%d batches wait in the channel, want %d", n, pullWindow-1)
		}
		if st := h.status(snap.ID); st.Tokens != 3*pullWindow {
			t.Errorf("status while the reader is away: %d tokens, want %d", st.Tokens, 3*pullWindow)
		}
		// What waits comes back in one piece.
		waiting, err := sub.Next(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(waiting); len(got) < pullWindow-1 {
			t.Errorf("one Next after the pause returned %q, want at least the %d waiting tokens", got, pullWindow-1)
		}
		s.Finish(llm.FinishStop, nil)
		recs := append(append(first, waiting...), h.readAll(sub)...)
		if got := text(recs); len(got) != 3*pullWindow {
			t.Errorf("text %q, want %d tokens", got, 3*pullWindow)
		}
		wantEnd(t, recs, model.StateDone, model.StatusCompleted, model.ReasonStop)
	})
}

func TestSnapshotCarriesTheUpstreamError(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		h.prov.FailNextOpen(&llm.StatusError{StatusCode: 429, Code: "rate_limit_exceeded", Message: "slow down"})
		snap := h.submit(prompt("p"))
		h.readAll(h.subscribe(snap.ID, 0))
		got := h.status(snap.ID).Upstream
		if got == nil || got.Status != 429 || got.Code != "rate_limit_exceeded" || !got.BeforeOutput {
			t.Fatalf("snapshot upstream = %+v", got)
		}
	})
}

package actors

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
	"github.com/armistice-go/armistice/model"
)

func TestQueueFullRefusesWithRetryAfter(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxActive, c.MaxQueued = 2, 3 }, func(h *harness) {
		for range 5 {
			h.submit(prompt("p"))
		}
		_, err := h.eng.Submit(h.ctx, owner, prompt("one too many"))
		wantErr(t, err, ErrQueueFull)
		var qf *QueueFullError
		if !errors.As(err, &qf) || qf.RetryAfter < time.Second {
			t.Fatalf("queue full error %v carries no usable retry-after", err)
		}
		st, _ := h.eng.Stats(h.ctx)
		if st.Active != 2 || st.Queued != 3 || st.Registered != 5 {
			t.Fatalf("stats = %+v; a refused submit must leave nothing behind", st)
		}
	})
}

func TestQueueIsStrictFIFO(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxActive = 1 }, func(h *harness) {
		h.submit(prompt("running"))
		running := h.script()
		var queued []Snapshot
		for i := range 5 {
			queued = append(queued, h.submit(prompt(fmt.Sprintf("q%d", i))))
		}
		for i, q := range queued {
			if got := h.status(q.ID).QueuePosition; got != i+1 {
				t.Fatalf("q%d at queue position %d", i, got)
			}
		}
		h.eng.Cancel(h.ctx, queued[2].ID, owner) // leaves a hole that must be skipped
		if got := h.status(queued[3].ID).QueuePosition; got != 3 {
			t.Fatalf("after a cancel ahead of it, q3 is at %d, want 3", got)
		}
		running.Finish(llm.FinishStop, nil)
		for _, want := range []string{"q0", "q1", "q3", "q4"} {
			s := h.script()
			if got := s.Request().Messages[0].Content; got != want {
				t.Fatalf("admitted %q, want %q", got, want)
			}
			s.Finish(llm.FinishStop, nil)
		}
	})
}

func TestStatusRightAfterSubmitIsNeverNotFound(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		for range 50 {
			snap := h.submit(prompt("p"))
			if _, err := h.eng.Status(h.ctx, snap.ID, owner); err != nil {
				t.Fatalf("status right after submit: %v", err)
			}
		}
	})
}

func TestForeignAndUnknownIDsAreNotFound(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		for _, tc := range []struct{ id, owner string }{
			{snap.ID, "tenant-b"}, {"no-such-id", owner}, {"", owner},
		} {
			_, err := h.eng.Status(h.ctx, tc.id, tc.owner)
			wantErr(t, err, ErrNotFound)
			_, err = h.eng.Cancel(h.ctx, tc.id, tc.owner)
			wantErr(t, err, ErrNotFound)
			_, err = h.eng.Subscribe(h.ctx, tc.id, tc.owner, 0)
			wantErr(t, err, ErrNotFound)
		}
		if h.status(snap.ID).State.Terminal() {
			t.Fatalf("a foreign cancel must not touch the request")
		}
	})
}

func TestSubscribeErrors(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxSubscribers = 2 }, func(h *harness) {
		snap := h.submit(prompt("p"))
		h.script()
		_, err := h.eng.Subscribe(h.ctx, snap.ID, owner, 99)
		wantErr(t, err, ErrInvalidCursor)
		a, b := h.subscribe(snap.ID, 0), h.subscribe(snap.ID, 0)
		_, err = h.eng.Subscribe(h.ctx, snap.ID, owner, 0)
		wantErr(t, err, ErrTooManySubscribers)
		a.Close()
		c := h.subscribe(snap.ID, 0) // a place is free again
		if got := h.status(snap.ID).Subscribers; got != 2 {
			t.Fatalf("subscribers = %d", got)
		}
		b.Close()
		c.Close()
	})
}

func TestInvalidSpecIsRefused(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		for _, spec := range []Spec{{}, {Messages: prompt("p").Messages, MaxTokens: -1}} {
			_, err := h.eng.Submit(h.ctx, owner, spec)
			wantErr(t, err, ErrInvalidRequest)
		}
	})
}

func TestTimeouts(t *testing.T) {
	cases := []struct {
		name   string
		mut    func(*Config)
		script func(h *harness, s *scripted.Script)
		reason model.Reason
		after  time.Duration
	}{
		{"first token", nil, func(h *harness, s *scripted.Script) {}, model.ReasonFirstTokenTimeout, 60 * time.Second},
		{"idle", nil, func(h *harness, s *scripted.Script) {
			time.Sleep(10 * time.Second)
			s.Token("a")
			time.Sleep(25 * time.Second)
			s.Token("b") // resets the idle clock: 30 s after this one
		}, model.ReasonIdleTimeout, 65 * time.Second},
		{"deadline", func(c *Config) { c.MaxDuration = 2 * time.Minute }, func(h *harness, s *scripted.Script) {
			for range 12 {
				time.Sleep(10 * time.Second)
				if !s.Token("a") {
					return
				}
			}
		}, model.ReasonDeadlineExceeded, 2 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scenario(t, tc.mut, func(h *harness) {
				start := time.Now()
				snap := h.submit(prompt("p"))
				sub := h.subscribe(snap.ID, 0)
				s := h.script()
				tc.script(h, s)
				<-s.Done()
				if got := time.Since(start); got != tc.after {
					t.Fatalf("ended after %s, want %s", got, tc.after)
				}
				if !s.Cancelled() {
					t.Fatalf("a timeout must abort the upstream stream")
				}
				wantEnd(t, h.readAll(sub), model.StateDone, model.StatusFailed, tc.reason)
			})
		})
	}
}

func TestQueueTimeout(t *testing.T) {
	// The running request must not time out itself, or its slot would free
	// at the very instant the queue timer fires.
	noTimeouts := func(c *Config) { c.MaxActive, c.FirstTokenTimeout, c.IdleTimeout = 1, 0, 0 }
	scenario(t, noTimeouts, func(h *harness) {
		h.submit(prompt("running"))
		s := h.script()
		queued := h.submit(prompt("waits"))
		sub := h.subscribe(queued.ID, 0)
		start := time.Now()
		recs := h.readAll(sub)
		if got := time.Since(start); got != 60*time.Second {
			t.Fatalf("queue timeout after %s", got)
		}
		wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonQueueTimeout)
		s.Token("x") // the running one is unaffected
		if h.status(queued.ID).State != model.StateDone {
			t.Fatal("queued request not done")
		}
	})
}

func TestOutputTooLarge(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxOutputBytes = 10 }, func(h *harness) {
		snap := h.submit(prompt("p"))
		s := h.script()
		s.Token("12345")
		s.Token("67890")
		s.Token("X")
		recs := h.readAll(h.subscribe(snap.ID, 0))
		if text(recs) != "1234567890" {
			t.Fatalf("text = %q", text(recs))
		}
		wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonOutputTooLarge)
		<-s.Done()
	})
}

// Cleanup is a message to self after delivery plus Linger: until then the
// result is readable; after it the id is unknown and the registry empty.
func TestCleanupAfterDeliveryAndLinger(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		s := h.script()
		s.Finish(llm.FinishStop, nil)
		h.readAll(sub)
		delivered := time.Now()
		time.Sleep(29 * time.Second)
		h.status(snap.ID) // still there for late resumes
		time.Sleep(2 * time.Second)
		_, err := h.eng.Status(h.ctx, snap.ID, owner)
		wantErr(t, err, ErrNotFound)
		if st, _ := h.eng.Stats(h.ctx); st.Registered != 0 {
			t.Fatalf("registry holds %d after cleanup (%s after delivery)", st.Registered, time.Since(delivered))
		}
	})
}

func TestCleanupAfterPickupTimeout(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		h.script().Finish(llm.FinishStop, nil)
		time.Sleep(9 * time.Minute)
		h.status(snap.ID) // nobody picked it up yet: kept
		time.Sleep(2 * time.Minute)
		_, err := h.eng.Status(h.ctx, snap.ID, owner)
		wantErr(t, err, ErrNotFound)
	})
}

func TestLateResumeRestartsLinger(t *testing.T) {
	scenario(t, nil, func(h *harness) {
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		h.script().Finish(llm.FinishStop, nil)
		h.readAll(sub)
		time.Sleep(20 * time.Second)
		h.readAll(h.subscribe(snap.ID, 0)) // a late resume re-reads the log
		time.Sleep(20 * time.Second)       // 40 s after the first delivery
		h.status(snap.ID)
		time.Sleep(15 * time.Second)
		_, err := h.eng.Status(h.ctx, snap.ID, owner)
		wantErr(t, err, ErrNotFound)
	})
}

func TestDrainWithLiveSubscribers(t *testing.T) {
	scenario(t, func(c *Config) { c.MaxActive = 2 }, func(h *harness) {
		quick := h.submit(prompt("quick"))
		slow := h.submit(prompt("slow"))
		queued := h.submit(prompt("queued"))
		subs := []*Subscription{h.subscribe(quick.ID, 0), h.subscribe(slow.ID, 0), h.subscribe(queued.ID, 0)}
		sQuick, sSlow := h.script(), h.script()
		if sQuick.Request().Messages[0].Content != "quick" {
			sQuick, sSlow = sSlow, sQuick // both start at once, in either order
		}
		done := make(chan error)
		start := time.Now()
		go func() { done <- h.eng.Drain(h.ctx, 30*time.Second) }()
		synctest.Wait()
		_, err := h.eng.Submit(h.ctx, owner, prompt("late"))
		wantErr(t, err, ErrShuttingDown)
		time.Sleep(10 * time.Second)
		sQuick.Token("ok")
		sQuick.Finish(llm.FinishStop, nil)
		sSlow.Token("never finishes")
		if err := <-done; err != nil {
			t.Fatalf("Drain: %v", err)
		}
		if got := time.Since(start); got != 30*time.Second {
			t.Fatalf("drain took %s, want the 30 s grace", got)
		}
		wantEnd(t, h.readAll(subs[0]), model.StateDone, model.StatusCompleted, model.ReasonStop)
		wantEnd(t, h.readAll(subs[1]), model.StateDone, model.StatusFailed, model.ReasonShutdown)
		wantEnd(t, h.readAll(subs[2]), model.StateDone, model.StatusFailed, model.ReasonShutdown)
		if !sSlow.Cancelled() {
			t.Fatal("the cut request's upstream call was not aborted")
		}
	})
}

func TestCloseEndsRunningRequestsForSubscribers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, scripted.New(), nil)
		snap := h.submit(prompt("p"))
		sub := h.subscribe(snap.ID, 0)
		h.script().Token("a")
		synctest.Wait()
		h.close()
		recs := h.readAll(sub)
		wantEnd(t, recs, model.StateDone, model.StatusFailed, model.ReasonShutdown)
		_, err := h.eng.Status(h.ctx, snap.ID, owner)
		wantErr(t, err, ErrClosed)
		time.Sleep(10 * time.Second) // past the dead-letter throttle
	})
}

// 1,000 cycles of submit, subscribe, then a disconnect, cancel, upstream
// failure or completion leave no goroutine and an empty registry.
func TestChurnLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, scripted.New(), func(c *Config) { c.MaxActive = 8 })
		defer h.close()
		synctest.Wait()
		goroutinesBefore, _ := bubbleGoroutines()
		var ids []string
		for i := range 1000 {
			spec := prompt("p")
			if i%4 == 0 {
				spec.OnDisconnect = model.OnDisconnectCancel
			}
			snap := h.submit(spec)
			ids = append(ids, snap.ID)
			if _, alive := h.eng.system.ProcessRegistry.GetLocal("armistice/" + snap.ID); !alive {
				t.Fatalf("request actor %s not found under its expected name", snap.ID)
			}
			sub := h.subscribe(snap.ID, 0)
			s := h.script()
			s.Token("a")
			switch i % 4 {
			case 0:
				sub.Next(h.ctx)
				sub.Close() // disconnect → cancel after the grace
			case 1:
				h.eng.Cancel(h.ctx, snap.ID, owner)
				h.readAll(sub)
			case 2:
				s.Fail(errors.New("upstream 500"))
				h.readAll(sub)
			case 3:
				s.Finish(llm.FinishStop, nil)
				h.readAll(sub)
			}
		}
		time.Sleep(11 * time.Minute) // past DetachGrace, Linger and PickupTimeout
		st, err := h.eng.Stats(h.ctx)
		if err != nil || st.Registered != 0 || st.Active != 0 || st.Queued != 0 {
			t.Fatalf("after churn: %+v, %v", st, err)
		}
		for _, id := range ids[:10] {
			if _, alive := h.eng.system.ProcessRegistry.GetLocal("armistice/" + id); alive {
				t.Fatalf("request actor %s still registered with proto.actor", id)
			}
		}
		synctest.Wait()
		if after, dump := bubbleGoroutines(); after > goroutinesBefore {
			t.Fatalf("%d goroutines after churn, %d before:\n%s", after, goroutinesBefore, dump)
		}
	})
}

// bubbleGoroutines counts the goroutines of the caller's synctest bubble
// (others in the process come and go on their own) and returns their
// stacks.
func bubbleGoroutines() (int, string) {
	buf := make([]byte, 1<<22)
	self := string(buf[:runtime.Stack(buf, false)])
	header, _, _ := strings.Cut(self, "\n")
	_, bubble, ok := strings.Cut(header, "synctest bubble ")
	if !ok {
		panic("bubbleGoroutines outside a bubble: " + header)
	}
	bubble = strings.TrimRight(bubble, "]:")
	var n int
	var b strings.Builder
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		h, _, _ := strings.Cut(g, "\n")
		if strings.Contains(h, "synctest bubble "+bubble+"]") || strings.Contains(h, "synctest bubble "+bubble+",") {
			n++
			b.WriteString(g + "\n\n")
		}
	}
	return n, b.String()
}

// A command that reaches a request while it retires (at the end of its
// Linger) is answered, by the request or as not found, and never left to
// time out: the supervisor forgets the id first and then poisons the
// actor, behind anything already forwarded to it.
func TestCommandsAtRetirementAreAnswered(t *testing.T) {
	scenario(t, func(c *Config) { c.Linger = time.Second }, func(h *harness) {
		for range 30 {
			snap := h.submit(prompt("p"))
			sub := h.subscribe(snap.ID, 0)
			s := h.script()
			s.Finish(llm.FinishStop, nil)
			h.readAll(sub)
			synctest.Wait()
			time.Sleep(time.Second) // the linger ends now, racing the status below
			start := time.Now()
			_, err := h.eng.Status(h.ctx, snap.ID, owner)
			if err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("status at retirement: %v", err)
			}
			if waited := time.Since(start); waited >= time.Second {
				t.Fatalf("status at retirement waited %s", waited)
			}
		}
	})
}

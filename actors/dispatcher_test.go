package actors

import (
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
)

func TestDispatchPoolRunsBatchesOnItsWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newDispatchPool()
		p.start(2)
		defer p.stop()
		synctest.Wait() // both workers are waiting
		before := runtime.NumGoroutine()
		done := make(chan struct{})
		for range 100 {
			p.Schedule(func() { done <- struct{}{} })
			<-done
			synctest.Wait() // the worker is back waiting
		}
		if got := p.onWorker.Load(); got != 100 {
			t.Errorf("%d of 100 batches ran on a worker (%d on goroutines of their own)", got, p.onGoroutine.Load())
		}
		if after := runtime.NumGoroutine(); after != before {
			t.Errorf("goroutines: %d before, %d after", before, after)
		}
	})
}

// Under saturation every worker is busy most of the time (runnable,
// waiting for a core). A run that finds them all busy waits for the next
// free one instead of paying a fresh goroutine and its stack copy (half
// of the request actors' CPU at 1,000 streams, docs/benchmarks.md).
func TestDispatchPoolQueuesRunsBehindBusyWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newDispatchPool()
		p.start(2)
		defer p.stop()
		synctest.Wait()
		release := make(chan struct{})
		for range 2 {
			p.Schedule(func() { <-release })
		}
		synctest.Wait()
		ran := make(chan struct{}, 5)
		for range 5 {
			p.Schedule(func() { ran <- struct{}{} })
		}
		synctest.Wait()
		if len(ran) != 0 || p.onGoroutine.Load() != 0 {
			t.Fatalf("%d of 5 runs ran while both workers were busy, %d on goroutines of their own; want them to wait for a worker", len(ran), p.onGoroutine.Load())
		}
		close(release)
		synctest.Wait()
		if len(ran) != 5 {
			t.Errorf("%d of 5 waiting runs ran once the workers were free", len(ran))
		}
		if p.onWorker.Load() != 7 || p.onGoroutine.Load() != 0 {
			t.Errorf("on workers %d, on goroutines %d; want 7 and 0", p.onWorker.Load(), p.onGoroutine.Load())
		}
	})
}

// A run that blocks must not hold up other actors' runs beyond the
// backlog: with every worker busy and the backlog full, Schedule returns
// at once and the run gets a goroutine of its own.
func TestDispatchPoolNeverWaitsForABusyWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newDispatchPoolWithBacklog(1)
		p.start(2)
		defer p.stop()
		synctest.Wait()
		release := make(chan struct{})
		for range 2 {
			p.Schedule(func() { <-release })
		}
		synctest.Wait()
		queued := make(chan struct{})
		p.Schedule(func() { close(queued) }) // fills the backlog
		ran := make(chan struct{})
		p.Schedule(func() { close(ran) }) // would block here if it waited
		<-ran
		if p.onWorker.Load() != 3 || p.onGoroutine.Load() != 1 {
			t.Errorf("on workers %d, on goroutines %d; want 3 and 1", p.onWorker.Load(), p.onGoroutine.Load())
		}
		close(release)
		<-queued
	})
}

// Runs still waiting when the last supervisor stops are run by the
// leaving workers: a lost run would leave its mailbox marked running and
// its actor deaf for good.
func TestDispatchPoolRunsItsBacklogBeforeItsWorkersLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newDispatchPool()
		p.start(1)
		synctest.Wait()
		release := make(chan struct{})
		p.Schedule(func() { <-release })
		synctest.Wait()
		var ran atomic.Int32
		for range 3 {
			p.Schedule(func() { ran.Add(1) })
		}
		p.stop()
		close(release)
		synctest.Wait() // the worker ends; the bubble would not end otherwise
		if got := ran.Load(); got != 3 {
			t.Errorf("%d of the 3 waiting runs ran after the last stop", got)
		}
		if p.onGoroutine.Load() != 0 {
			t.Errorf("%d runs on goroutines of their own, want 0", p.onGoroutine.Load())
		}
	})
}

// Each supervisor on the pool starts and stops it; the workers end with
// the last stop (the bubble would not end otherwise), and a run scheduled
// before the first start or after the last stop still runs.
func TestDispatchPoolLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newDispatchPool()
		runs := func() {
			t.Helper()
			ran := make(chan struct{})
			p.Schedule(func() { close(ran) })
			<-ran
			synctest.Wait()
		}
		runs() // before start
		p.start(3)
		p.start(3) // a second supervisor from the same props
		synctest.Wait()
		p.stop()
		runs() // one user left: still on a worker
		if p.onWorker.Load() != 1 || p.onGoroutine.Load() != 1 {
			t.Errorf("on workers %d, on goroutines %d; want 1 and 1", p.onWorker.Load(), p.onGoroutine.Load())
		}
		p.stop()
		p.stop() // more stops than starts change nothing
		synctest.Wait()
		runs() // after the last stop
		if p.onGoroutine.Load() != 2 {
			t.Errorf("on goroutines %d after the last stop, want 2", p.onGoroutine.Load())
		}
		p.start(1) // a restarted supervisor starts it again
		synctest.Wait()
		runs()
		if p.onWorker.Load() != 2 {
			t.Errorf("on workers %d after a restart, want 2", p.onWorker.Load())
		}
		p.stop()
	})
}

// New returns with the workers running, so a goroutine baseline taken
// right after it (as the http tests take with goleak.IgnoreCurrent) holds
// them. The supervisor starts them as it handles Started, on a goroutine
// of its own; before New waited for it, the baseline missed them now and
// then.
func TestNewReturnsWithTheWorkersRunning(t *testing.T) {
	for range 20 {
		cfg := DefaultConfig(scripted.New())
		cfg.Workers = 3
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.pool.mu.Lock()
		users := e.pool.users
		e.pool.mu.Unlock()
		e.Close()
		if users != 1 {
			t.Fatalf("the pool has %d users when New returns, want 1", users)
		}
	}
}

// The engine's supervisor and request actors run on the pool: a paced
// answer of 50 tokens is 50 and more mailbox runs, and with the workers
// idle between tokens each lands on a worker.
func TestRequestsRunOnTheWorkers(t *testing.T) {
	for _, workers := range []int{0, 4} {
		scenario(t, func(c *Config) { c.Workers = workers }, func(h *harness) {
			snap := h.submit(prompt("p"))
			sub := h.subscribe(snap.ID, 0)
			s := h.script()
			// A reader that keeps up, as a stream handler does.
			read := make(chan string, 1)
			go func() {
				var b strings.Builder
				for {
					recs, err := sub.Next(h.ctx)
					if err != nil {
						read <- b.String()
						return
					}
					b.WriteString(text(recs))
				}
			}()
			// The start (Started, New's first answer, the submit) may
			// come before the new workers first wait; count from here,
			// with every goroutine of the bubble idle.
			synctest.Wait()
			st0, err := h.eng.Stats(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			for range 50 {
				s.Token("x")
				time.Sleep(20 * time.Millisecond)
			}
			s.Finish(llm.FinishStop, nil)
			if got := <-read; len(got) != 50 {
				t.Fatalf("text %q, want 50 tokens", got)
			}
			st, err := h.eng.Stats(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			st.MailboxRunsOnWorkers -= st0.MailboxRunsOnWorkers
			st.MailboxRunsOnGoroutines -= st0.MailboxRunsOnGoroutines
			if st.Workers != workers {
				t.Errorf("Stats.Workers %d, want %d", st.Workers, workers)
			}
			switch {
			case workers == 0 && st.MailboxRunsOnWorkers+st.MailboxRunsOnGoroutines != 0:
				t.Errorf("without workers the pool counted %d + %d runs", st.MailboxRunsOnWorkers, st.MailboxRunsOnGoroutines)
			// Runs of one request never overlap, so every token's run
			// finds a worker idle.
			case workers > 0 && (st.MailboxRunsOnWorkers < 50 || st.MailboxRunsOnGoroutines != 0):
				t.Errorf("runs on workers %d (want ≥ 50), on goroutines %d (want 0)", st.MailboxRunsOnWorkers, st.MailboxRunsOnGoroutines)
			// One run per token, and a Pull per half window rather than
			// per token: well under two runs per token.
			case workers > 0 && st.MailboxRunsOnWorkers > 50+50/(pullWindow/2)+10:
				t.Errorf("%d mailbox runs for 50 paced tokens: a Pull per token?", st.MailboxRunsOnWorkers)
			}
		})
	}
}

func TestConfigValidateWorkers(t *testing.T) {
	cfg := DefaultConfig(scripted.New())
	if cfg.Workers < 8 {
		t.Errorf("default Workers %d, want at least 8", cfg.Workers)
	}
	cfg.Workers = -1
	if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Workers -1: %v, want ErrInvalidConfig", err)
	}
	cfg.Workers = 0
	if err := cfg.Validate(); err != nil {
		t.Errorf("Workers 0: %v", err)
	}
}
